// minigpt/ppo_trainer.hpp — the PPO loop: the policy answers, is scored, and is nudged.
//
// Chapter idea: the recipe's last step (RLHF with PPO). The SFT model becomes the policy π; a
// frozen copy of it stays behind as the reference π_ref. Each PPO step
//
//   1. rollouts   B prompts; the policy samples an answer to each from its full distribution
//                 (no top-k, no top-p: the log-probabilities PPO uses are of the distribution
//                 the tokens were drawn from; at config.temperature T, 1 by default, that
//                 distribution is softmax(logits / T) everywhere below, the reference's too),
//                 until the stop token or max_new_tokens; an answer without the stop token
//                 has not ended;
//   2. scores     score[b] = reward(prompt, answer) — the reward model, or any grader — and,
//                 when given, gold(prompt, answer), only reported (the labeler's verdict);
//   3. old numbers one forward pass over prompt + answer: logπ_old[b,t] and the value
//                 V_old[b,t] of every answer token, and the reference's logπ_ref[b,t];
//   4. rewards    r[b,t] = −β·(logπ_old − logπ_ref)[b,t] + score[b]·[t = last]   (ppo.hpp)
//   5. advantages GAE(γ, λ) over each answer, whitened over the batch; returns R = A + V_old
//                 (or, with config.advantage = leave_one_out, RLOO: step 1 samples K answers
//                 to each of B/K prompts, and an answer's advantage is its reward minus the
//                 mean of the other K − 1 answers' to the same prompt; no value head, ppo.hpp)
//   6. updates    num_ppo_epochs passes over the rollouts in shuffled minibatches; each
//                 minibatch: a training forward, loss = pg + c_v·vf (the clipped surrogate
//                 and the clipped value loss of ppo.hpp), one backward through the model,
//                 the gradient clipped to max_grad_norm, one AdamW step
//                 (none when options.skip_equal_scores and every score of the batch is equal)
//   7. β          the KL controller sees the batch's mean KL per answer (fixed or adaptive)
//
// PPO-ptx (InstructGPT, Ouyang et al. 2022, eq. 2: "+ γ E_{x∼D_pretrain}[log π(x)]"): with
// options.ptx_coef = γ > 0 and demonstration batches given (mix_in), each minibatch update
// also adds γ times the next-token loss of one demonstration batch (inputs and targets, the
// targets of prompt tokens masked, as sft_batch makes them), so the policy keeps doing what
// the demonstrations showed while PPO moves it: InstructGPT mixes in pre-training text to stop
// regressions on public tasks; here the SFT demonstrations keep the answers PPO would
// otherwise unlearn. loss = pg + c_v·vf + γ·CE(demonstrations).
//
// The value head (ValueHead below) is one linear map from the policy's final hidden state to
// a number, V = h · w + b, and it SHARES THE TRUNK: it reads the policy's own hidden states
// (GPT::hidden()), and the value loss's gradient flows back into the policy's weights through
// GPT::backward's dhidden seam, as in TRL's default (AutoModelForCausalLMWithValueHead: one
// transformer, an LM head and a value head). vf_coef = 0.1 keeps the value loss from pulling
// the shared trunk too hard. The head starts at w = 0, b = 0 (V = 0 everywhere), so the first
// step's returns are the rewards themselves and the trunk's first gradient is the policy's.
// V[b,t] is read at the position before answer token t (where the model predicts it), as
// the log-probability is.
//
// Shapes: prompts (B, P_b) and answers (B, L_b) of varying lengths, packed as sequences
// (B, Tseq) = prompt + answer + padding; per answer token (B, T), T = max L_b, 0 at padding;
// hidden (B·Tseq, C) -> values (B·Tseq).
//
// Example (see run_ppo at the end; the reward here: answers that say token 3 often):
//     GPT<float> policy = sft_model, reference = sft_model;     // the reference stays frozen
//     PPOOptions opt;  opt.stop_token = newline;  opt.steps = 50;
//     auto reward = [](const auto& prompt, const auto& answer) {
//       return std::count(answer.begin(), answer.end(), 3) / double(answer.size()); };
//     PPOHistory h = run_ppo(policy, reference, reward, {}, prompts, opt);
//     // h.steps[k].mean_score rises; h.steps[k].mean_kl says how far π went from π_ref
#pragma once

#include "adamw.hpp"
#include "data_loader.hpp"
#include "error.hpp"
#include "gpt.hpp"
#include "kv_cache.hpp"
#include "loss.hpp"
#include "parameters.hpp"
#include "ppo.hpp"
#include "random.hpp"
#include "sampling.hpp"
#include "training.hpp"
#include "tensor.hpp"
#include "token_id.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace minigpt {

// ---- the value head: V = h · w + b on the final hidden states ----

// Backward beside forward:
//   forward   v[n] = h[n] · w + b                         h (N, C), w (C), b -> v (N)
//   backward  dh[n] = dv[n] · w;  dw += Σ_n dv[n] h[n];  db += Σ_n dv[n]
// Example: C = 2, w = [1 −1], b = 0.5, h = [[2 1]]  ->  v = [1.5]; dv = [2] -> dh = [[2 −2]],
//          dw = [4 2], db = 2.
template <typename S>
struct ValueHead {
  RowVector<S> w;  // (C)
  S b = 0;

  ValueHead() = default;
  explicit ValueHead(Index C) : w(RowVector<S>::Zero(C)) {}

  Index size() const { return w.size() + 1; }
  void zero() {
    w.setZero();
    b = 0;
  }

  // v (N) = h · w + b
  Matrix<S> forward(const Matrix<S>& h) const {
    check(h, "ValueHead::forward");
    Matrix<S> v = h * w.transpose();
    v.array() += b;
    return v;  // (N, 1)
  }

  // Given dv (N), returns dh (N, C) = dv · w, and ADDS dw, db into grads.
  Matrix<S> backward(ValueHead<S>& grads, const Matrix<S>& dv, const Matrix<S>& h) const {
    check(h, "ValueHead::backward");
    if (dv.size() != h.rows() || grads.w.size() != w.size())
      throw ArgumentError("ValueHead::backward: dv has " + std::to_string(dv.size()) + " values for " +
                          std::to_string(h.rows()) + " hidden states");
    const Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> d(dv.data(), dv.size());
    grads.w += (h.transpose() * d).transpose();  // dw += Σ dv[n] h[n]
    grads.b += d.sum();                           // db += Σ dv[n]
    return d * w;                                 // dh[n] = dv[n] · w
  }

 private:
  void check(const Matrix<S>& h, const char* who) const {
    if (h.cols() != w.size())
      throw ArgumentError(std::string(who) + ": hidden states of width " + std::to_string(h.cols()) +
                          " for a head of width " + std::to_string(w.size()));
  }
};

// ---- prompt + answer, packed ----

// B sequences of prompt + answer, right-padded to Tseq (causal attention never looks right,
// so the padding changes nothing before it).
struct ResponseBatch {
  Index B = 0, Tseq = 0, T = 0;        // T: the longest answer
  std::vector<TokenId> ids;            // (B, Tseq)
  std::vector<TokenId> next;           // (B, Tseq): the token after each position (0 past the end)
  std::vector<Index> prompt_lengths;   // (B)
  std::vector<Index> lengths;          // (B)
};

// Packs prompts[b] + answers[b]; both non-empty, all ids in 0..V−1, and each sequence at most
// n_positions long (what one forward pass can read).
inline ResponseBatch pack_responses(const std::vector<std::vector<TokenId>>& prompts,
                                    const std::vector<std::vector<TokenId>>& answers, const GPTConfig& config) {
  if (prompts.size() != answers.size() || prompts.empty())
    throw ArgumentError("pack_responses: " + std::to_string(prompts.size()) + " prompts and " +
                        std::to_string(answers.size()) + " answers (need as many, at least one)");
  ResponseBatch r;
  r.B = static_cast<Index>(prompts.size());
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    const Index P = static_cast<Index>(prompts[b].size()), L = static_cast<Index>(answers[b].size());
    if (P < 1 || L < 1)
      throw ArgumentError("pack_responses: row " + std::to_string(b) + " has an empty " + (P < 1 ? "prompt" : "answer"));
    if (P + L > config.n_positions)
      throw ArgumentError("pack_responses: row " + std::to_string(b) + ": prompt " + std::to_string(P) + " + answer " +
                          std::to_string(L) + " tokens are past the block size of " + std::to_string(config.n_positions));
    check_token_ids(prompts[b], config.vocab_size, "pack_responses: prompt " + std::to_string(b));
    check_token_ids(answers[b], config.vocab_size, "pack_responses: answer " + std::to_string(b));
    r.prompt_lengths.push_back(P);
    r.lengths.push_back(L);
    r.Tseq = std::max(r.Tseq, P + L);
    r.T = std::max(r.T, L);
  }
  r.ids.assign(static_cast<std::size_t>(r.B * r.Tseq), 0);
  r.next.assign(r.ids.size(), 0);
  for (Index b = 0; b < r.B; ++b) {
    const auto bi = static_cast<std::size_t>(b);
    std::vector<TokenId> seq = prompts[bi];
    seq.insert(seq.end(), answers[bi].begin(), answers[bi].end());
    for (std::size_t i = 0; i < seq.size(); ++i) {
      r.ids[static_cast<std::size_t>(b * r.Tseq) + i] = seq[i];
      if (i + 1 < seq.size()) r.next[static_cast<std::size_t>(b * r.Tseq) + i] = seq[i + 1];
    }
  }
  return r;
}

// ---- one forward pass over prompt + answer ----

namespace detail {
// The logits (B·Tseq, V) of the last forward pass read at temperature T: the activations' own
// at T = 1 (no copy), else logits / T, kept in `storage`.
template <typename S>
ConstMatrixRef<S> logits_at(const GPTActivations<S>& a, double temperature, Matrix<S>& storage) {
  if (temperature == 1.0) return a.logits.matrix();
  storage = a.logits.matrix() * static_cast<S>(1.0 / temperature);
  return storage;
}
}  // namespace detail

template <typename S>
struct ResponseNumbers {
  Matrix<S> logprobs;  // (B, T): log π(answer token t | prompt, tokens before)
  Matrix<S> values;    // (B, T): V before answer token t (empty without a head)
  Matrix<S> entropy;   // (B, T): the entropy of the distribution token t was drawn from
};

// The answer tokens' log-probabilities (and values, entropies) from one forward pass, at
// temperature T:
//   logπ[b,t] = log softmax(logits[b, P_b + t − 1] / T)[answer_b[t]]      (loss.hpp)
//   V[b,t]    = head(hidden[b, P_b + t − 1])
// training = true keeps the activations for ppo_loss_and_backward's backward.
template <typename S>
ResponseNumbers<S> response_numbers(const GPT<S>& model, GPTActivations<S>& a, const ResponseBatch& batch,
                                    const ValueHead<S>* head = nullptr, bool training = false, bool entropy = false,
                                    double temperature = 1.0) {
  ForwardOptions<S> opt;
  opt.training = training;
  model.forward(a, batch.ids, batch.B, batch.Tseq, opt);  // (B, Tseq, V)
  Matrix<S> tempered;
  const ConstMatrixRef<S> logits = detail::logits_at(a, temperature, tempered);
  const std::vector<S> lp = token_log_probs<S>(logits, batch.next.data());
  const ConstMatrixMap<S> per_position(lp.data(), batch.B, batch.Tseq);
  ResponseNumbers<S> out;
  out.logprobs = gather_response<S>(per_position, batch.prompt_lengths, batch.lengths, batch.T);
  if (head != nullptr) {
    const Matrix<S> v = head->forward(a.hidden);  // (B·Tseq, 1)
    out.values = gather_response<S>(ConstMatrixMap<S>(v.data(), batch.B, batch.Tseq), batch.prompt_lengths,
                                    batch.lengths, batch.T);
  }
  if (entropy) {
    const std::vector<S> h = token_entropy<S>(logits);
    out.entropy = gather_response<S>(ConstMatrixMap<S>(h.data(), batch.B, batch.Tseq), batch.prompt_lengths,
                                     batch.lengths, batch.T);
  }
  return out;
}

// ---- the PPO loss of one minibatch, and its backward ----

// What the rollout phase fixed for each answer token: (B, T) each.
template <typename S>
struct PPOTargets {
  Matrix<S> old_logprobs, old_values, advantages, returns;
};

template <typename S>
struct PPOLossResult {
  S loss = 0, pg_loss = 0, vf_loss = 0;
  double clipfrac = 0, vf_clipfrac = 0, approxkl = 0;
};

// loss = pg + c_v · vf (ppo.hpp's policy_loss and value_loss) on the minibatch `batch`, with
// the policy's current weights. When grads is given, ADDS d loss / d weights into grads and
// d loss / d (w, b) into head_grads:
//   d logπ (B, T)  = policy_loss_backward               -> dlogits (token_log_probs_backward)
//   d V (B, T)     = value_loss_backward · c_v          -> dhidden = dV · w (ValueHead::backward)
//   GPT::backward(dlogits, dhidden)
// With config.advantage = leave_one_out there is no value head: loss = pg, and the head is
// neither read nor given a gradient.
template <typename S>
PPOLossResult<S> ppo_loss_and_backward(const GPT<S>& policy, GPTActivations<S>& a, const ValueHead<S>& head,
                                       const ResponseBatch& batch, const PPOTargets<S>& targets,
                                       const PPOConfig& config, Parameters<S>* grads = nullptr,
                                       ValueHead<S>* head_grads = nullptr) {
  if ((grads == nullptr) != (head_grads == nullptr))
    throw ArgumentError("ppo_loss_and_backward: give both gradient buffers (policy and value head) or neither");
  const bool backward = grads != nullptr;
  const bool with_value = config.advantage == AdvantageEstimator::gae;  // RLOO has no value head
  const ResponseNumbers<S> now =
      response_numbers(policy, a, batch, with_value ? &head : nullptr, backward, false, config.temperature);
  const S eps = static_cast<S>(config.cliprange), eps_v = static_cast<S>(config.cliprange_value);
  const S c_v = static_cast<S>(config.vf_coef);
  const PolicyLoss<S> pg = policy_loss(now.logprobs, targets.old_logprobs, targets.advantages, batch.lengths, eps);
  const ValueLoss<S> vf =
      with_value ? value_loss(now.values, targets.old_values, targets.returns, batch.lengths, eps_v) : ValueLoss<S>{};
  PPOLossResult<S> r;
  r.pg_loss = pg.loss;
  r.vf_loss = vf.loss;
  r.loss = pg.loss + c_v * vf.loss;  // loss = pg + c_v · vf
  r.clipfrac = pg.clipfrac;
  r.vf_clipfrac = vf.clipfrac;
  r.approxkl = pg.approxkl;
  if (!backward) return r;

  // d logπ -> per position -> dlogits (the forward read logits / T: dlogits = d(logits / T) / T)
  Matrix<S> d_logprobs, d_values;
  policy_loss_backward(d_logprobs, now.logprobs, targets.old_logprobs, targets.advantages, batch.lengths, eps);
  const Matrix<S> dlp = scatter_response(d_logprobs, batch.prompt_lengths, batch.lengths, batch.Tseq);  // (B, Tseq)
  const Index N = batch.B * batch.Tseq;
  a.dlogits.resize(N, policy.config().vocab_size);
  Matrix<S> tempered;
  token_log_probs_backward<S>(a.dlogits, dlp.data(), detail::logits_at(a, config.temperature, tempered), batch.next.data());
  if (config.temperature != 1.0) a.dlogits *= static_cast<S>(1.0 / config.temperature);
  if (!with_value) {
    policy.backward(a, *grads, a.dlogits);
    return r;
  }
  // d V -> per position -> dhidden
  value_loss_backward(d_values, now.values, targets.old_values, targets.returns, batch.lengths, eps_v, c_v);
  const Matrix<S> dv = scatter_response(d_values, batch.prompt_lengths, batch.lengths, batch.Tseq);  // (B, Tseq)
  const Matrix<S> dhidden = head.backward(*head_grads, dv, a.hidden);  // (B·Tseq, C)
  policy.backward(a, *grads, a.dlogits, &dhidden);
  return r;
}

// ---- sampling the answers ----

// Samples an answer to each prompt from the model's full distribution at temperature T
// (softmax(logits / T); no top-k, no top-p), one token at a time with a KV cache, until
// stop_token (kept) or max_new_tokens; records each token's log-probability under the
// distribution it was drawn from. Prompts of equal length are sampled together. Every prompt
// must leave room for max_new_tokens in the block.
template <typename S>
std::vector<std::vector<TokenId>> sample_answers(const GPT<S>& model, const std::vector<std::vector<TokenId>>& prompts,
                                                 Index max_new_tokens, TokenId stop_token, Rng& rng,
                                                 std::vector<std::vector<double>>* logprobs = nullptr,
                                                 double temperature = 1.0) {
  const GPTConfig& c = model.config();
  if (max_new_tokens < 1) throw ArgumentError("sample_answers: max_new_tokens must be >= 1");
  if (!(temperature > 0) || !std::isfinite(temperature))
    throw ArgumentError("sample_answers: the temperature must be a finite number > 0");
  SamplingOptions sampling;
  sampling.temperature = temperature;
  if (stop_token < 0 || stop_token >= c.vocab_size)
    throw ArgumentError("sample_answers: the stop token " + std::to_string(stop_token) + " is outside the vocabulary 0.." +
                        std::to_string(c.vocab_size - 1));
  std::map<Index, std::vector<std::size_t>> by_length;  // prompt length -> rows
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const Index P = static_cast<Index>(prompts[i].size());
    if (P < 1) throw ArgumentError("sample_answers: prompt " + std::to_string(i) + " is empty");
    if (P + max_new_tokens > c.n_positions)
      throw ArgumentError("sample_answers: prompt " + std::to_string(i) + " has " + std::to_string(P) + " tokens; with " +
                          std::to_string(max_new_tokens) + " new tokens that is past the block size of " +
                          std::to_string(c.n_positions));
    check_token_ids(prompts[i], c.vocab_size, "sample_answers: prompt " + std::to_string(i));
    by_length[P].push_back(i);
  }
  std::vector<std::vector<TokenId>> out(prompts.size());
  if (logprobs != nullptr) logprobs->assign(prompts.size(), {});
  const Index V = c.vocab_size;
  GPTActivations<S> a;
  for (const auto& [P, rows] : by_length) {
    const Index B = static_cast<Index>(rows.size());
    KVCache<S> cache(c, B, P + max_new_tokens);
    ForwardOptions<S> opt;
    opt.cache = &cache;
    opt.last_position_only = true;
    std::vector<TokenId> ids;
    for (std::size_t r : rows) ids.insert(ids.end(), prompts[r].begin(), prompts[r].end());
    const Tensor<S>* logits = &model.forward(a, ids, B, P, opt);  // the prompts, at once
    std::vector<bool> stopped(rows.size(), false);
    for (Index step = 0; step < max_new_tokens; ++step) {
      std::vector<TokenId> next(rows.size(), stop_token);
      for (Index b = 0; b < B; ++b) {
        const auto bi = static_cast<std::size_t>(b);
        if (stopped[bi]) continue;
        const S* row = logits->data() + b * V;
        next[bi] = sample(row, V, sampling, rng);  // the full distribution at T
        out[rows[bi]].push_back(next[bi]);
        if (logprobs != nullptr) {
          auto z = [&](Index v) { return static_cast<double>(row[v]) / temperature; };
          double max = z(0), sum = 0;  // log softmax(row / T)[next], in double
          for (Index v = 1; v < V; ++v) max = std::max(max, z(v));
          for (Index v = 0; v < V; ++v) sum += std::exp(z(v) - max);
          (*logprobs)[rows[bi]].push_back(z(next[bi]) - max - std::log(sum));
        }
        stopped[bi] = next[bi] == stop_token;
      }
      if (std::all_of(stopped.begin(), stopped.end(), [](bool s) { return s; }) || step + 1 == max_new_tokens) break;
      logits = &model.forward(a, next, B, 1, opt);
    }
  }
  return out;
}

// ---- options, statistics ----

// The loop's settings besides PPO's arithmetic (config, ppo.hpp). Our defaults for a small
// model on 2 cores: TRL's learning rate (3e-6 in its PPOConfig) is for billions of weights and
// far too timid here.
struct PPOOptions {
  PPOConfig config;                 // β, clip ranges, c_v, γ, λ, epochs (TRL's defaults)
  Index steps = 50;                 // PPO steps (each: batch_size rollouts, then the updates)
  Index batch_size = 32;            // rollouts per step
  Index mini_batch_size = 8;        // rollouts per gradient step (must divide batch_size)
  Index max_new_tokens = 16;        // the longest answer sampled
  TokenId stop_token = -1;          // ends an answer (must be set: the newline in the recipe)
  double learning_rate = 1e-4;      // AdamW's, constant, for the policy and the value head
  AdamWOptions adamw;               // β1 0.9, β2 0.999, eps 1e-8, no weight decay
  double max_grad_norm = 1.0;       // clip the whole gradient (policy and head) to this length (0: off)
  double missing_eos_penalty = 0;   // TRL's: subtracted from the score of an answer that never ended
  double ptx_coef = 0;              // InstructGPT's γ of PPO-ptx: the demonstrations' loss weight
                                    // in each update (0: off; > 0 needs PPOTrainer::mix_in)
  // A step whose rollouts all score the same makes no update (DAPO's dynamic sampling, Yu et
  // al. 2025, drops prompts whose answers all score alike; this drops such a batch). Such a
  // batch says nothing about the reward: its advantages are the KL penalty and the value
  // head's errors, which whitening scales up to unit size, and a policy that gives one answer
  // to everything (every score 0) then drifts on that noise. Off by default (TRL updates on
  // every batch); the step reports skipped = 1.
  bool skip_equal_scores = false;
  std::uint64_t seed = 1234;        // prompts' order and every sampled token

  void validate(const GPTConfig& model) const {
    config.validate();
    auto bad = [](const std::string& what) { throw ArgumentError("PPO options: " + what); };
    if (steps < 0) bad("steps must be >= 0");
    if (batch_size < 2) bad("batch_size must be >= 2 (advantages are whitened over the batch)");
    if (mini_batch_size < 1 || batch_size % mini_batch_size != 0)
      bad("mini_batch_size (" + std::to_string(mini_batch_size) + ") must divide batch_size (" +
          std::to_string(batch_size) + ")");
    if (config.advantage == AdvantageEstimator::leave_one_out && batch_size % config.samples_per_prompt != 0)
      bad("batch_size (" + std::to_string(batch_size) + ") must be a multiple of samples_per_prompt (" +
          std::to_string(config.samples_per_prompt) + ") for leave-one-out advantages");
    if (max_new_tokens < 1) bad("max_new_tokens must be >= 1");
    if (max_new_tokens >= model.n_positions)
      bad("max_new_tokens (" + std::to_string(max_new_tokens) + ") leaves no room for a prompt in the block size of " +
          std::to_string(model.n_positions));
    if (stop_token < 0 || stop_token >= model.vocab_size)
      bad("stop_token " + std::to_string(stop_token) + " is outside the vocabulary 0.." +
          std::to_string(model.vocab_size - 1) + " (set it to the token that ends an answer)");
    if (!(learning_rate > 0) || !std::isfinite(learning_rate)) bad("learning_rate must be a finite number > 0");
    adamw.validate();
    if (!(max_grad_norm >= 0) || !std::isfinite(max_grad_norm)) bad("max_grad_norm must be >= 0");
    if (!std::isfinite(missing_eos_penalty)) bad("missing_eos_penalty must be finite");
    if (!(ptx_coef >= 0) || !std::isfinite(ptx_coef)) bad("ptx_coef must be a finite number >= 0");
  }
};

// One PPO step's report (TRL's names in brackets). Means are over the step's rollouts unless
// said otherwise; the losses and clip fractions are means over its minibatch updates.
struct PPOStepStats {
  Index step = 0;
  double kl_coef = 0;          // β used for this step's rewards
  double mean_score = 0;       // reward(prompt, answer), before the KL penalty      [objective/scores]
  double mean_gold = std::numeric_limits<double>::quiet_NaN();  // gold(prompt, answer); NaN without one
  double mean_kl = 0;          // Σ_t (logπ − logπ_ref) per answer, nats            [objective/kl]
  double mean_reward = 0;      // score − β·KL per answer: what PPO maximises       [objective/rlhf_reward]
  double entropy = 0;          // per answer token, of the sampling distribution, nats
  double ended_share = 0;      // share of answers that reached the stop token
  double mean_length = 0;      // answer tokens, stop token included
  double policy_loss = 0;      // the clipped surrogate                             [loss/policy_avg]
  double value_loss = 0;       // the clipped value loss (before c_v)               [loss/value_avg]
  double clipfrac = 0;         // share of tokens where the ratio was clipped       [policy/clipfrac_avg]
  double value_clipfrac = 0;   //                                                   [val/clipfrac_avg]
  double approxkl = 0;         // ½ mean (logπ_new − logπ_old)²: how far each update went [policy/approxkl_avg]
  double ptx_loss = std::numeric_limits<double>::quiet_NaN();  // PPO-ptx: the demonstrations' loss; NaN when off
  bool skipped = false;        // no update: every score equal and options.skip_equal_scores
  double seconds = 0;          // wall time of the step
};

// The table of PPOStepStats' fields: JSON, charts and docs walk it.
template <typename F>
void for_each_ppo_stat(F&& visit) {
  visit("step", [](const PPOStepStats& s) { return static_cast<double>(s.step); });
  visit("kl_coef", [](const PPOStepStats& s) { return s.kl_coef; });
  visit("mean_score", [](const PPOStepStats& s) { return s.mean_score; });
  visit("mean_gold", [](const PPOStepStats& s) { return s.mean_gold; });
  visit("mean_kl", [](const PPOStepStats& s) { return s.mean_kl; });
  visit("mean_reward", [](const PPOStepStats& s) { return s.mean_reward; });
  visit("entropy", [](const PPOStepStats& s) { return s.entropy; });
  visit("ended_share", [](const PPOStepStats& s) { return s.ended_share; });
  visit("mean_length", [](const PPOStepStats& s) { return s.mean_length; });
  visit("policy_loss", [](const PPOStepStats& s) { return s.policy_loss; });
  visit("value_loss", [](const PPOStepStats& s) { return s.value_loss; });
  visit("clipfrac", [](const PPOStepStats& s) { return s.clipfrac; });
  visit("value_clipfrac", [](const PPOStepStats& s) { return s.value_clipfrac; });
  visit("approxkl", [](const PPOStepStats& s) { return s.approxkl; });
  visit("ptx_loss", [](const PPOStepStats& s) { return s.ptx_loss; });
  visit("skipped", [](const PPOStepStats& s) { return s.skipped ? 1.0 : 0.0; });
  visit("seconds", [](const PPOStepStats& s) { return s.seconds; });
}

struct PPOHistory {
  bool adaptive_kl = false;  // which β controller ran
  std::vector<PPOStepStats> steps;

  // {"adaptive_kl": false, "steps": [{"step": 1, "kl_coef": 0.05, ...}, ...]}; NaN as null.
  nlohmann::json to_json() const {
    nlohmann::json j{{"adaptive_kl", adaptive_kl}, {"steps", nlohmann::json::array()}};
    for (const PPOStepStats& s : steps) {
      nlohmann::json row = nlohmann::json::object();
      for_each_ppo_stat([&](const char* name, auto get) {
        const double v = get(s);
        row[name] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
      });
      j["steps"].push_back(row);
    }
    return j;
  }
};

// A score for one answer: reward(prompt ids, answer ids), the answer as sampled (its stop token
// included when it ended). The reward model, the labeler, or any grader.
using RewardFunction = std::function<double(const std::vector<TokenId>& prompt, const std::vector<TokenId>& answer)>;

// What one step's rollout phase produced (steps 1 to 5 above).
template <typename S>
struct PPORollouts {
  std::vector<std::vector<TokenId>> prompts, answers;
  ResponseCut cut;              // lengths, which answers ended
  ResponseBatch batch;          // prompt + answer, packed
  RowVector<S> scores;          // (B): reward, with the missing-EOS penalty
  std::vector<double> gold;     // (B): gold scores (empty without a gold function)
  Matrix<S> logprobs, ref_logprobs, values, entropy;  // (B, T)
  ShapedRewards<S> rewards;     // (B, T): kl, −β·kl, and the score at the last token
  Advantages<S> advantages;     // (B, T): whitened advantages, returns
  double kl_coef = 0;
};

// ---- the trainer ----

// Owns the value head and the optimiser; trains `policy` in place (keep it alive). The
// reference is copied (frozen).
template <typename S = float>
class PPOTrainer {
 public:
  PPOTrainer(GPT<S>& policy, const GPT<S>& reference, RewardFunction reward, RewardFunction gold,
             std::vector<std::vector<TokenId>> prompts, const PPOOptions& options)
      : policy_(policy), reference_(reference), reward_(std::move(reward)), gold_(std::move(gold)),
        prompts_(std::move(prompts)), options_(options), head_(policy.config().n_embd),
        head_grads_(policy.config().n_embd), head_m_(policy.config().n_embd), head_v_(policy.config().n_embd),
        kl_(KLController::from_config(options.config)), rng_(options.seed) {
    const GPTConfig& c = policy.config();
    options.validate(c);
    if (!(reference.config() == c))
      throw ArgumentError("PPOTrainer: the policy and the reference must have the same configuration");
    if (!reward_) throw ArgumentError("PPOTrainer: a reward function is required");
    if (prompts_.empty()) throw ArgumentError("PPOTrainer: no prompts");
    for (std::size_t i = 0; i < prompts_.size(); ++i) {
      const Index P = static_cast<Index>(prompts_[i].size());
      if (P < 1) throw ArgumentError("PPOTrainer: prompt " + std::to_string(i) + " is empty");
      if (P + options.max_new_tokens > c.n_positions)
        throw ArgumentError("PPOTrainer: prompt " + std::to_string(i) + " has " + std::to_string(P) +
                            " tokens; with max_new_tokens " + std::to_string(options.max_new_tokens) +
                            " that is past the block size of " + std::to_string(c.n_positions));
      check_token_ids(prompts_[i], c.vocab_size, "PPOTrainer: prompt " + std::to_string(i));
    }
    optimizer_ = AdamW<S>(c, options.adamw);
    history_.adaptive_kl = kl_.is_adaptive();
  }

  const PPOOptions& options() const { return options_; }
  const PPOHistory& history() const { return history_; }
  ValueHead<S>& value_head() { return head_; }
  const GPT<S>& reference() const { return reference_; }
  double kl_coef() const { return kl_.value(); }
  Index step_count() const { return static_cast<Index>(history_.steps.size()); }
  bool done() const { return step_count() >= options_.steps; }
  // PPO-ptx's demonstrations: batches (B, T) of inputs and targets, prompt targets ignore_index
  // (sft_batch), used in turn, one per minibatch update, weighted by options().ptx_coef.
  void mix_in(std::vector<Batch> demonstrations) {
    for (std::size_t i = 0; i < demonstrations.size(); ++i) {
      const Batch& b = demonstrations[i];
      if (b.B < 1 || b.T < 1 || b.T > policy_.config().n_positions ||
          b.inputs.size() != static_cast<std::size_t>(b.B * b.T) || b.targets.size() != b.inputs.size())
        throw ArgumentError("PPOTrainer::mix_in: demonstration batch " + std::to_string(i) +
                            " is not (B, T) inputs and targets within the block size");
      check_token_ids(b.inputs, policy_.config().vocab_size, "PPOTrainer::mix_in: batch " + std::to_string(i) + " inputs");
    }
    ptx_ = std::move(demonstrations);
    ptx_cursor_ = 0;
  }

  // Answers sampled to each prompt of a batch: K for leave-one-out advantages, else 1.
  Index samples_per_prompt() const {
    return options_.config.advantage == AdvantageEstimator::leave_one_out ? options_.config.samples_per_prompt : 1;
  }

  // Steps 1 to 5: rollouts for the next batch_size prompts (in a shuffled order, reshuffled
  // after each pass over the prompts), scored, with rewards and advantages.
  PPORollouts<S> rollouts() {
    PPORollouts<S> r;
    // the next prompts, each K times in a row for leave-one-out advantages (once for GAE)
    const Index K = samples_per_prompt();
    for (Index i = 0; i < options_.batch_size / K; ++i) {
      const std::size_t p = next_prompt();
      for (Index k = 0; k < K; ++k) r.prompts.push_back(prompts_[p]);
    }
    // 1. answers from the full distribution, cut at the stop token
    const double T = options_.config.temperature;
    r.answers = sample_answers(policy_, r.prompts, options_.max_new_tokens, options_.stop_token, rng_, nullptr, T);
    r.cut = cut_responses(r.answers, options_.stop_token);
    r.batch = pack_responses(r.prompts, r.answers, policy_.config());
    // 2. scores
    const Index B = r.batch.B;
    r.scores.resize(B);
    for (Index b = 0; b < B; ++b) {
      const auto bi = static_cast<std::size_t>(b);
      const double s = reward_(r.prompts[bi], r.answers[bi]);
      if (!std::isfinite(s)) throw ArgumentError("PPO: the reward function gave " + std::to_string(s) + " for rollout " + std::to_string(b));
      r.scores(b) = static_cast<S>(s - (r.cut.ended[bi] ? 0.0 : options_.missing_eos_penalty));
      if (gold_) r.gold.push_back(gold_(r.prompts[bi], r.answers[bi]));
    }
    // 3. the old policy's numbers and the reference's
    GPTActivations<S> a;
    const ResponseNumbers<S> now = response_numbers(policy_, a, r.batch, K == 1 ? &head_ : nullptr, false, true, T);
    r.logprobs = now.logprobs;
    r.values = K == 1 ? now.values : Matrix<S>::Zero(r.batch.B, r.batch.T);
    r.entropy = now.entropy;
    r.ref_logprobs = response_numbers<S>(reference_, a, r.batch, nullptr, false, false, T).logprobs;
    // 4. rewards: the score at the last token, −β·KL at every token
    r.kl_coef = kl_.value();
    r.rewards = kl_penalty_rewards(r.scores, r.logprobs, r.ref_logprobs, r.batch.lengths, static_cast<S>(r.kl_coef),
                                   options_.config.kl_estimator);
    // 5. GAE, whitened; or each answer against the other answers to its prompt
    if (K == 1)
      r.advantages = compute_advantages(r.rewards.rewards, r.values, r.batch.lengths, options_.config);
    else
      r.advantages = leave_one_out_advantages(r.scores, r.rewards.kl, r.batch.lengths, static_cast<S>(r.kl_coef), K,
                                              options_.config.whiten_advantages);
    return r;
  }

  // One PPO step: rollouts, then num_ppo_epochs passes of minibatch updates, then β.
  PPOStepStats step() {
    const auto start = std::chrono::steady_clock::now();
    const PPORollouts<S> r = rollouts();
    PPOStepStats s = summarise(r);
    s.step = step_count() + 1;
    // 6. the updates
    const Index B = r.batch.B, mb = options_.mini_batch_size;
    Index updates = 0;
    GPTActivations<S> a;
    // ... none when every score is the same and the options say to skip such a batch
    s.skipped = options_.skip_equal_scores && r.scores.maxCoeff() == r.scores.minCoeff();
    for (Index epoch = 0; epoch < (s.skipped ? 0 : options_.config.num_ppo_epochs); ++epoch) {
      std::vector<Index> order(static_cast<std::size_t>(B));
      std::iota(order.begin(), order.end(), Index(0));
      shuffle(order, rng_);
      for (Index m0 = 0; m0 < B; m0 += mb) {
        const std::vector<Index> rows(order.begin() + m0, order.begin() + m0 + mb);
        const PPOLossResult<S> l = update(r, rows, a, s.step);
        s.policy_loss += static_cast<double>(l.pg_loss);
        s.value_loss += static_cast<double>(l.vf_loss);
        s.clipfrac += l.clipfrac;
        s.value_clipfrac += l.vf_clipfrac;
        s.approxkl += l.approxkl;
        ++updates;
      }
    }
    for (double* x : {&s.policy_loss, &s.value_loss, &s.clipfrac, &s.value_clipfrac, &s.approxkl})
      *x /= static_cast<double>(std::max<Index>(updates, 1));
    if (options_.ptx_coef > 0 && updates > 0) s.ptx_loss = ptx_sum_ / static_cast<double>(updates);
    ptx_sum_ = 0;
    // 7. β follows the KL (adaptive), or stays
    kl_.update(s.mean_kl, B);
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    history_.steps.push_back(s);
    return s;
  }

 private:
  std::size_t next_prompt() {
    if (cursor_ == order_.size()) {
      order_.resize(prompts_.size());
      std::iota(order_.begin(), order_.end(), std::size_t(0));
      shuffle(order_, rng_);
      cursor_ = 0;
    }
    return order_[cursor_++];
  }


  PPOStepStats summarise(const PPORollouts<S>& r) const {
    PPOStepStats s;
    const Index B = r.batch.B;
    const RowVector<S> seq_kl = sequence_kl(r.rewards.kl, r.batch.lengths);
    s.kl_coef = r.kl_coef;
    s.mean_score = static_cast<double>(r.scores.mean());
    s.mean_kl = static_cast<double>(seq_kl.mean());
    s.mean_reward = s.mean_score - r.kl_coef * s.mean_kl;
    if (!r.gold.empty()) s.mean_gold = std::accumulate(r.gold.begin(), r.gold.end(), 0.0) / static_cast<double>(B);
    const Matrix<S> mask = response_mask<S>(r.batch.lengths, r.batch.T);
    s.entropy = static_cast<double>(masked_mean(r.entropy, mask));
    s.ended_share = r.cut.ended_share;
    s.mean_length = static_cast<double>(detail::token_count(r.batch.lengths)) / static_cast<double>(B);
    return s;
  }

  // One minibatch: forward, loss, backward, clipping, AdamW (policy) and Adam (head).
  PPOLossResult<S> update(const PPORollouts<S>& r, const std::vector<Index>& rows, GPTActivations<S>& a, Index step) {
    std::vector<std::vector<TokenId>> prompts, answers;
    PPOTargets<S> t;
    const Index n = static_cast<Index>(rows.size()), T = r.batch.T;
    for (Matrix<S>* m : {&t.old_logprobs, &t.old_values, &t.advantages, &t.returns}) m->resize(n, T);
    for (Index i = 0; i < n; ++i) {
      const Index b = rows[static_cast<std::size_t>(i)];
      prompts.push_back(r.prompts[static_cast<std::size_t>(b)]);
      answers.push_back(r.answers[static_cast<std::size_t>(b)]);
      t.old_logprobs.row(i) = r.logprobs.row(b);
      t.old_values.row(i) = r.values.row(b);
      t.advantages.row(i) = r.advantages.advantages.row(b);
      t.returns.row(i) = r.advantages.returns.row(b);
    }
    ResponseBatch mb = pack_responses(prompts, answers, policy_.config());
    for (Matrix<S>* m : {&t.old_logprobs, &t.old_values, &t.advantages, &t.returns}) {
      const Matrix<S> cut = m->leftCols(mb.T);
      *m = cut;
    }
    Parameters<S>& grads = policy_.gradients();
    grads.zero();
    head_grads_.zero();
    const PPOLossResult<S> l = ppo_loss_and_backward(policy_, a, head_, mb, t, options_.config, &grads, &head_grads_);
    if (options_.ptx_coef > 0) {  // PPO-ptx: + γ · d CE(demonstrations)
      if (ptx_.empty()) throw ArgumentError("PPO: ptx_coef > 0 but no demonstrations were mixed in (PPOTrainer::mix_in)");
      const Batch& demo = ptx_[ptx_cursor_++ % ptx_.size()];
      LossOptions o;
      o.masked = true;
      o.scale = options_.ptx_coef;
      const double ce = loss_and_backward(static_cast<const GPT<S>&>(policy_), a, grads, demo.view(), o);
      if (!std::isfinite(ce)) throw ArgumentError("PPO step " + std::to_string(step) + ": the demonstrations' loss is not finite");
      ptx_sum_ += ce;
    }
    // the length of the whole gradient, policy and head together
    const double head_sq = static_cast<double>(head_grads_.w.squaredNorm() + head_grads_.b * head_grads_.b);
    const double g_policy = grad_norm(grads), norm = std::sqrt(g_policy * g_policy + head_sq);
    if (!std::isfinite(norm) || !std::isfinite(static_cast<double>(l.loss)))
      throw ArgumentError("PPO step " + std::to_string(step) + ": the loss or its gradient is not finite (loss " +
                          std::to_string(static_cast<double>(l.loss)) + ")");
    const double scale = clip_scale(norm, options_.max_grad_norm);
    const std::string bad = optimizer_.step(policy_.parameters(), grads, options_.learning_rate, scale);
    if (!bad.empty()) throw ArgumentError("PPO step " + std::to_string(step) + ": the update made " + bad + " non-finite");
    head_step(scale);
    return l;
  }

  // The value head's update: AdamW's arithmetic (adamw.hpp), on its C + 1 numbers.
  void head_step(double grad_scale) {
    ++head_t_;
    const double b1 = options_.adamw.beta1, b2 = options_.adamw.beta2, lr = options_.learning_rate;
    const double bias1 = 1 - std::pow(b1, static_cast<double>(head_t_)), bias2 = 1 - std::pow(b2, static_cast<double>(head_t_));
    auto one = [&](S& p, S& m, S& v, S g_raw, bool decay) {
      const double g = static_cast<double>(g_raw) * grad_scale;
      if (decay) p = static_cast<S>(static_cast<double>(p) * (1 - lr * options_.adamw.weight_decay));
      m = static_cast<S>(b1 * static_cast<double>(m) + (1 - b1) * g);
      v = static_cast<S>(b2 * static_cast<double>(v) + (1 - b2) * g * g);
      p = static_cast<S>(static_cast<double>(p) - lr / bias1 * static_cast<double>(m) /
                                                      (std::sqrt(static_cast<double>(v) / bias2) + options_.adamw.eps));
    };
    for (Index i = 0; i < head_.w.size(); ++i) one(head_.w(i), head_m_.w(i), head_v_.w(i), head_grads_.w(i), true);
    one(head_.b, head_m_.b, head_v_.b, head_grads_.b, false);
  }

  GPT<S>& policy_;
  const GPT<S> reference_;
  RewardFunction reward_, gold_;
  std::vector<std::vector<TokenId>> prompts_;
  PPOOptions options_;
  ValueHead<S> head_, head_grads_, head_m_, head_v_;
  Index head_t_ = 0;
  AdamW<S> optimizer_;
  KLController kl_;
  Rng rng_;
  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
  std::vector<Batch> ptx_;  // PPO-ptx's demonstration batches, used in turn
  std::size_t ptx_cursor_ = 0;
  double ptx_sum_ = 0;
  PPOHistory history_;
};

// The whole PPO stage in one call: trains `policy` in place against the frozen `reference`
// for options.steps steps and returns every step's statistics. gold may be empty; on_step,
// when given, hears each step's statistics as soon as it is done (a progress bar);
// demonstrations, when given, are PPO-ptx's (mix_in; weighted by options.ptx_coef).
template <typename S>
PPOHistory run_ppo(GPT<S>& policy, const GPT<S>& reference, const RewardFunction& reward, const RewardFunction& gold,
                   const std::vector<std::vector<TokenId>>& prompts, const PPOOptions& options,
                   const std::function<void(const PPOStepStats&)>& on_step = {},
                   std::vector<Batch> demonstrations = {}) {
  PPOTrainer<S> trainer(policy, reference, reward, gold, prompts, options);
  if (!demonstrations.empty()) trainer.mix_in(std::move(demonstrations));
  while (!trainer.done()) {
    const PPOStepStats s = trainer.step();
    if (on_step) on_step(s);
  }
  return trainer.history();
}

}  // namespace minigpt
