// minigpt/reward_model.hpp — the reward model (보상 모델): a number for how good an answer is.
//
// Chapter idea: the second step of the recipe. People do not write a score for an answer;
// they rank several answers to the same prompt (InstructGPT: K = 4 to 9 answers, every one of
// the K(K−1)/2 pairs used, all pairs of one prompt in the same batch). A reward model r(x, y)
// — the SFT model with a scalar head on the last token — learns to agree with the rankings by
// the Bradley–Terry model of comparisons: the chance that y_c is preferred to y_r is
// σ(r_c − r_r), and training maximises the log-likelihood of the preferences the people made.
//
// For P pairs with rewards r_c[i] (chosen) and r_r[i] (rejected), and d[i] = r_c[i] − r_r[i]:
//
//     loss       = (1/P) Σ_i −log σ(d[i])  +  c · (1/P) Σ_i (r_c[i] + r_r[i])²
//     d loss / d r_c[i] = (σ(d[i]) − 1) / P  +  2c (r_c[i] + r_r[i]) / P
//     d loss / d r_r[i] = (1 − σ(d[i])) / P  +  2c (r_c[i] + r_r[i]) / P
//     accuracy   = (1/P) #{i : r_c[i] > r_r[i]}         (a tie counts as wrong)
//
// This is TRL's RewardTrainer.compute_loss: −logsigmoid(rewards_chosen − rewards_rejected)
// averaged over the batch, plus center_rewards_coefficient · mean((r_c + r_r)²) when that
// option is set (c = 0 by default: the plain Bradley–Terry loss; c ≈ 0.01 keeps rewards near
// 0, which the PPO step likes), and its "accuracy" metric (rewards_chosen > rewards_rejected).
// With the pairs of one prompt in one batch, the mean over pairs is InstructGPT's
// 1/C(K,2) normalisation. −log σ(d) is computed as log(1 + e^−d) without overflow for any d.
//
// Shapes: r_chosen (P), r_rejected (P) -> loss (scalar); d_chosen (P), d_rejected (P);
//         the model: ids (B, T), lengths (B) -> r (B).
//
// Example: r_c = [2, 0], r_r = [0, 1]  ->  d = [2, −1]
//   loss = (log(1 + e^−2) + log(1 + e^1)) / 2 = (0.1269 + 1.3133) / 2 = 0.7201
//   d_chosen = [(σ(2) − 1)/2, (σ(−1) − 1)/2] = [−0.0596, −0.3655], d_rejected = −d_chosen
//   accuracy = 1/2
//
// The model (RewardModel below): the GPT's final hidden states h = ln_f(x) (B*T, C), and a
// scalar head w (1, C) without bias read at each sequence's last real token:
//
//     r[b]          = h[b, L_b − 1] · wᵀ                   (B)      L_b: tokens of sequence b
//     d h[b, L_b−1] = dr[b] · w        (0 at every other position; GPT::backward's dhidden)
//     d w           = Σ_b dr[b] · h[b, L_b − 1]
//
// Sequences are prompt + answer ids right-padded to the longest; causal attention never looks
// right, so the padding changes no r. One training step takes the answers of a few prompts
// (each prompt's K distinct answers and all its pairs together), computes each answer's r
// once, and the loss over every pair of the batch.
//
// Saved as Hugging Face's GPT2ForSequenceClassification: model.safetensors holds the GPT's
// tensors under "transformer." and "score.weight" (1, C); config.json has
// "architectures": ["GPT2ForSequenceClassification"], "num_labels": 1 and the one-label
// id2label/label2id that transformers writes. A folder without the head is refused by name.
//
// Example:
//     RewardModel<float> rm(sft_model, rng);               // trunk copied, w ~ N(0, 0.02)
//     RewardTrainer<float> t(rm, encode_preferences(tok, pairs, 128), RewardOptions{});
//     while (!t.done()) t.step();                           // loss, accuracy per step
//     save_reward_model(t.model(), "out/reward");
//     float r = load_reward_model<float>("out/reward").score(tok.encode("Q: ...\nA: Busan\n"));
#pragma once

#include "adamw.hpp"
#include "checkpoint.hpp"
#include "config_file.hpp"
#include "detail/io.hpp"
#include "detail/parallel.hpp"
#include "error.hpp"
#include "gpt.hpp"
#include "jsonl.hpp"
#include "loss.hpp"
#include "lr_schedule.hpp"
#include "random.hpp"
#include "safetensors.hpp"
#include "tensor.hpp"
#include "tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace minigpt {

struct BradleyTerryOptions {
  double center_rewards_coefficient = 0.0;  // c above (TRL's center_rewards_coefficient; 0: off)
};

namespace detail {

template <typename S>
void check_pairs(const RowVector<S>& chosen, const RowVector<S>& rejected, const char* who) {
  if (chosen.size() != rejected.size() || chosen.size() == 0)
    throw ArgumentError(std::string(who) + ": r_chosen and r_rejected must have the same length P >= 1 (got " +
                        std::to_string(chosen.size()) + " and " + std::to_string(rejected.size()) + ")");
}

// −log σ(x) = log(1 + e^−x), stable for large |x| of either sign.
template <typename S>
S neg_log_sigmoid(S x) {
  return x >= S(0) ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x));
}

// σ(x) = 1 / (1 + e^−x), without overflow.
template <typename S>
S sigmoid(S x) {
  if (x >= S(0)) return S(1) / (S(1) + std::exp(-x));
  const S e = std::exp(x);
  return e / (S(1) + e);
}

}  // namespace detail

// loss = (1/P) Σ −log σ(r_c − r_r) + c · (1/P) Σ (r_c + r_r)²
template <typename S>
S bradley_terry_loss(const RowVector<S>& r_chosen, const RowVector<S>& r_rejected,
                     const BradleyTerryOptions& options = {}) {
  detail::check_pairs(r_chosen, r_rejected, "bradley_terry_loss");
  const Index P = r_chosen.size();
  const S c = static_cast<S>(options.center_rewards_coefficient);
  S total = 0;
  for (Index i = 0; i < P; ++i) {
    total += detail::neg_log_sigmoid<S>(r_chosen(i) - r_rejected(i));
    if (c != S(0)) total += c * (r_chosen(i) + r_rejected(i)) * (r_chosen(i) + r_rejected(i));
  }
  return total / static_cast<S>(P);
}

// Backward of  loss = (1/P) Σ −log σ(r_c − r_r) + c · (1/P) Σ (r_c + r_r)²:
//   d_chosen[i]   = dloss · ((σ(d) − 1) + 2c (r_c + r_r)) / P
//   d_rejected[i] = dloss · ((1 − σ(d)) + 2c (r_c + r_r)) / P          (both overwritten)
template <typename S>
void bradley_terry_loss_backward(RowVector<S>& d_chosen, RowVector<S>& d_rejected, const RowVector<S>& r_chosen,
                                 const RowVector<S>& r_rejected, const BradleyTerryOptions& options = {},
                                 S dloss = S(1)) {
  detail::check_pairs(r_chosen, r_rejected, "bradley_terry_loss_backward");
  const Index P = r_chosen.size();
  const S c = static_cast<S>(options.center_rewards_coefficient);
  d_chosen.resize(P);
  d_rejected.resize(P);
  for (Index i = 0; i < P; ++i) {
    const S s = detail::sigmoid<S>(r_chosen(i) - r_rejected(i));
    const S center = S(2) * c * (r_chosen(i) + r_rejected(i));
    d_chosen(i) = dloss * ((s - S(1)) + center) / static_cast<S>(P);
    d_rejected(i) = dloss * ((S(1) - s) + center) / static_cast<S>(P);
  }
}

// The share of pairs the rewards order as the labeler did: r_chosen > r_rejected (strictly).
template <typename S>
double pairwise_accuracy(const RowVector<S>& r_chosen, const RowVector<S>& r_rejected) {
  detail::check_pairs(r_chosen, r_rejected, "pairwise_accuracy");
  Index right = 0;
  for (Index i = 0; i < r_chosen.size(); ++i) right += r_chosen(i) > r_rejected(i);
  return static_cast<double>(right) / static_cast<double>(r_chosen.size());
}

// The mean of r_chosen − r_rejected (TRL's "margin" metric).
template <typename S>
double reward_margin(const RowVector<S>& r_chosen, const RowVector<S>& r_rejected) {
  detail::check_pairs(r_chosen, r_rejected, "reward_margin");
  return static_cast<double>((r_chosen - r_rejected).mean());
}

// ---- the reward model: the GPT with a scalar head ----

// Sequences right-padded into one (B, T) batch of ids; lengths[b] real tokens each (pad id 0).
struct PaddedSequences {
  std::vector<TokenId> ids;   // (B, T)
  std::vector<Index> lengths;  // (B)
  Index B = 0, T = 0;
};

inline PaddedSequences pad_sequences(const std::vector<std::vector<TokenId>>& seqs, TokenId pad_id = 0) {
  PaddedSequences p;
  p.B = static_cast<Index>(seqs.size());
  for (const auto& s : seqs) {
    if (s.empty()) throw ArgumentError("reward model: an empty sequence has no last token to score");
    p.T = std::max<Index>(p.T, static_cast<Index>(s.size()));
    p.lengths.push_back(static_cast<Index>(s.size()));
  }
  p.ids.assign(static_cast<std::size_t>(p.B * p.T), pad_id);
  for (Index b = 0; b < p.B; ++b)
    std::copy(seqs[static_cast<std::size_t>(b)].begin(), seqs[static_cast<std::size_t>(b)].end(),
              p.ids.begin() + b * p.T);
  return p;
}

template <typename S = float>
class RewardModel {
 public:
  // The trunk copied from `trunk` (the SFT model); w drawn N(0, 0.02) as transformers does.
  RewardModel(const GPT<S>& trunk, Rng& rng) : trunk_(trunk), w_(trunk.config().n_embd) {
    for (Index c = 0; c < w_.size(); ++c) w_(c) = static_cast<S>(0.02 * rng.normal());
  }
  RewardModel(const GPT<S>& trunk, RowVector<S> w) : trunk_(trunk), w_(std::move(w)) {
    if (w_.size() != trunk.config().n_embd)
      throw ArgumentError("RewardModel: the score head has " + std::to_string(w_.size()) + " weights, the model is " +
                          std::to_string(trunk.config().n_embd) + " wide");
  }
  // The same model with another scalar type (for gradient checks in double).
  template <typename S2>
  explicit RewardModel(const RewardModel<S2>& o) : trunk_(o.trunk()), w_(o.score_weight().template cast<S>()) {}

  GPT<S>& trunk() { return trunk_; }
  const GPT<S>& trunk() const { return trunk_; }
  RowVector<S>& score_weight() { return w_; }  // w (C): score.weight (1, C)
  const RowVector<S>& score_weight() const { return w_; }
  const GPTConfig& config() const { return trunk_.config(); }

  // r (B) for the padded batch, everything kept in `a` (training: for backward()).
  //   r[b] = h[b, L_b − 1] · wᵀ
  RowVector<S> forward(GPTActivations<S>& a, const PaddedSequences& p, bool training = false) const {
    ForwardOptions<S> opt;
    opt.training = training;
    opt.logits = false;
    trunk_.forward(a, p.ids, p.B, p.T, opt);  // a.hidden (B*T, C)
    RowVector<S> r(p.B);
    for (Index b = 0; b < p.B; ++b) r(b) = a.hidden.row(last_row(p, b)).dot(w_);
    return r;
  }

  // Backward of r[b] = h[b, L_b − 1] · wᵀ, then through the GPT: ADDS into grads (the trunk's
  // gradients) and dw (the head's, C).
  //   d h[b, L_b − 1] = dr[b] · w;   dw += dr[b] · h[b, L_b − 1]
  void backward(GPTActivations<S>& a, Parameters<S>& grads, RowVector<S>& dw, const RowVector<S>& dr,
                const PaddedSequences& p) const {
    if (dr.size() != p.B) throw ArgumentError("RewardModel::backward: dr must hold one number per sequence");
    if (dw.size() != w_.size()) dw = RowVector<S>::Zero(w_.size());
    Matrix<S> dhidden = Matrix<S>::Zero(p.B * p.T, w_.size());
    for (Index b = 0; b < p.B; ++b) {
      dhidden.row(last_row(p, b)) = dr(b) * w_;
      dw += dr(b) * a.hidden.row(last_row(p, b));
    }
    const Matrix<S> no_logits;
    trunk_.backward(a, grads, no_logits, &dhidden);
  }

  // The reward of each sequence (prompt + answer ids), computed 32 at a time: what PPO calls.
  RowVector<S> score(const std::vector<std::vector<TokenId>>& seqs) const {
    RowVector<S> r(static_cast<Index>(seqs.size()));
    GPTActivations<S> a;
    for (std::size_t i = 0; i < seqs.size(); i += 32) {
      const std::vector<std::vector<TokenId>> chunk(seqs.begin() + static_cast<std::ptrdiff_t>(i),
                                                    seqs.begin() + static_cast<std::ptrdiff_t>(std::min(seqs.size(), i + 32)));
      r.segment(static_cast<Index>(i), static_cast<Index>(chunk.size())) = forward(a, pad_sequences(chunk));
    }
    return r;
  }
  S score(const std::vector<TokenId>& ids) const { return score(std::vector<std::vector<TokenId>>{ids})(0); }

 private:
  static Index last_row(const PaddedSequences& p, Index b) { return b * p.T + p.lengths[static_cast<std::size_t>(b)] - 1; }

  GPT<S> trunk_;
  RowVector<S> w_;
};

// ---- saving and loading (GPT2ForSequenceClassification's layout) ----

template <typename S>
void save_reward_model(const RewardModel<S>& rm, const std::string& dir) {
  const GPTConfig& c = rm.config();
  c.validate(dir + "/config.json");
  detail::make_directories(dir);
  const Parameters<S>& p = rm.trunk().parameters();
  std::vector<TensorToWrite<S>> tensors;
  for (const TensorInfo& info : p.table().entries())
    tensors.push_back({"transformer." + info.name, info.shape, p.data() + info.offset});
  tensors.push_back({"score.weight", {1, c.n_embd}, rm.score_weight().data()});
  const SafetensorsFile<S> weights(tensors);
  // Values are built as nlohmann::json{...}, not assigned from a bare braced list: in a
  // template, clang 14 skips destroying operator='s by-value argument, leaking what it replaced.
  nlohmann::json j = config_to_json(c, "GPT2ForSequenceClassification");
  j["num_labels"] = 1;
  j["id2label"] = nlohmann::json{{"0", "LABEL_0"}};
  j["label2id"] = nlohmann::json{{"LABEL_0", 0}};
  const std::string config = j.dump(2) + "\n";
  detail::write_files_atomic({{dir + "/model.safetensors", weights.pieces()},
                              {dir + "/config.json", {{config.data(), config.size()}}}});
}

template <typename S = float>
RewardModel<S> load_reward_model(const std::string& dir) {
  if (!detail::is_directory(dir)) throw FileError(dir, "", "is not a folder (expected a reward model's config.json and model.safetensors)");
  const std::string config_path = dir + "/config.json";
  const nlohmann::json j = detail::read_json_file(config_path, std::size_t(64) << 20);
  const GPTConfig c = config_from_json(j, config_path);
  // num_labels 1: given directly, or as the one-entry id2label transformers writes.
  Index labels = -1;
  if (auto it = j.find("num_labels"); it != j.end() && it->is_number_integer()) labels = it->get<Index>();
  else if (auto id2 = j.find("id2label"); id2 != j.end() && id2->is_object()) labels = static_cast<Index>(id2->size());
  if (labels != 1)
    throw FileError(config_path, "num_labels",
                    labels < 0 ? "missing: a reward model (GPT2ForSequenceClassification) has num_labels 1"
                               : "is " + std::to_string(labels) + "; a reward model gives one number (num_labels 1)");
  const std::string path = dir + "/model.safetensors";
  const SafetensorsReader file(path);
  const SafetensorsEntry* head = file.find("score.weight");
  if (head == nullptr)
    throw FileError(path, "tensor 'score.weight'",
                    "missing: this folder holds a language model without a reward model's score head");
  if (head->shape != std::vector<Index>{1, c.n_embd})
    throw FileError(path, "tensor 'score.weight'",
                    "shape " + shape_text(head->shape) + ", expected (1, " + std::to_string(c.n_embd) + ")");
  RowVector<S> w(c.n_embd);
  file.read(*head, w.data());
  return RewardModel<S>(load_model<S>(dir), std::move(w));
}

// ---- training on comparisons ----

// One prompt's comparisons, tokenized: its distinct answers as prompt + answer ids, and the
// pairs as (chosen, rejected) indices into them.
struct PreferenceGroup {
  std::string prompt;
  std::vector<std::vector<TokenId>> sequences;
  std::vector<std::pair<Index, Index>> pairs;
};

// Pairs grouped by prompt (first-seen order), each answer tokenized once. Every sequence must
// fit the block.
inline std::vector<PreferenceGroup> encode_preferences(const Tokenizer& tok, const std::vector<PreferencePair>& rows,
                                                       Index block_size) {
  std::vector<PreferenceGroup> groups;
  std::map<std::string, std::size_t> group_of;
  std::vector<std::map<std::string, Index>> answer_of;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const PreferencePair& r = rows[i];
    auto g = group_of.find(r.prompt);
    if (g == group_of.end()) {
      g = group_of.emplace(r.prompt, groups.size()).first;
      groups.push_back({r.prompt, {}, {}});
      answer_of.emplace_back();
    }
    PreferenceGroup& group = groups[g->second];
    auto index = [&](const std::string& answer) {
      auto& known = answer_of[g->second];
      auto it = known.find(answer);
      if (it != known.end()) return it->second;
      std::vector<TokenId> ids = tok.encode(r.prompt + answer);
      if (static_cast<Index>(ids.size()) > block_size)
        throw ArgumentError("encode_preferences: row " + std::to_string(i + 1) + " is " + std::to_string(ids.size()) +
                            " tokens, past the block size " + std::to_string(block_size));
      group.sequences.push_back(std::move(ids));
      return known[answer] = static_cast<Index>(group.sequences.size()) - 1;
    };
    const Index c = index(r.chosen), rej = index(r.rejected);
    group.pairs.emplace_back(c, rej);
  }
  if (groups.empty()) throw ArgumentError("encode_preferences: no pairs");
  return groups;
}

// The loss and accuracy of some groups' pairs together (P pairs in all).
struct RewardBatchResult {
  double loss = 0, accuracy = 0;
  Index pairs = 0;
};

// Forward (and, with grads, backward) of the Bradley–Terry loss over every pair of `groups`:
// each answer's r computed once, r_c and r_r gathered by the pairs, d r scattered back as the
// sum over the pairs an answer is in. With grads, ADDS dloss_scale · d loss into grads and dw.
template <typename S>
RewardBatchResult reward_batch(const RewardModel<S>& rm, GPTActivations<S>& a, const std::vector<const PreferenceGroup*>& groups,
                               const BradleyTerryOptions& bt = {}, Parameters<S>* grads = nullptr,
                               RowVector<S>* dw = nullptr, double dloss_scale = 1.0) {
  std::vector<std::vector<TokenId>> seqs;
  std::vector<std::pair<Index, Index>> pairs;
  for (const PreferenceGroup* g : groups) {
    const Index base = static_cast<Index>(seqs.size());
    seqs.insert(seqs.end(), g->sequences.begin(), g->sequences.end());
    for (const auto& pr : g->pairs) pairs.emplace_back(base + pr.first, base + pr.second);
  }
  RewardBatchResult out;
  out.pairs = static_cast<Index>(pairs.size());
  if (pairs.empty()) return out;
  const PaddedSequences p = pad_sequences(seqs);
  const RowVector<S> r = rm.forward(a, p, grads != nullptr);
  RowVector<S> rc(out.pairs), rr(out.pairs);
  for (Index i = 0; i < out.pairs; ++i) {  // gather
    rc(i) = r(pairs[static_cast<std::size_t>(i)].first);
    rr(i) = r(pairs[static_cast<std::size_t>(i)].second);
  }
  out.loss = static_cast<double>(bradley_terry_loss(rc, rr, bt));
  out.accuracy = pairwise_accuracy(rc, rr);
  if (grads != nullptr) {
    RowVector<S> dc, drj;
    bradley_terry_loss_backward(dc, drj, rc, rr, bt, static_cast<S>(dloss_scale));
    RowVector<S> dr = RowVector<S>::Zero(r.size());
    for (Index i = 0; i < out.pairs; ++i) {  // scatter: an answer's gradient sums over its pairs
      dr(pairs[static_cast<std::size_t>(i)].first) += dc(i);
      dr(pairs[static_cast<std::size_t>(i)].second) += drj(i);
    }
    rm.backward(a, *grads, *dw, dr, p);
  }
  return out;
}

struct RewardOptions {
  Index prompts_per_step = 8;  // every pair of each prompt in the same step (InstructGPT)
  Index steps = 300;
  LearningRateSchedule lr{1e-4, 1e-5, 20, 300};
  AdamWOptions adamw{0.9, 0.99, 1e-8, 0.0};
  double grad_clip = 1.0;
  BradleyTerryOptions bt{0.01};  // rewards kept near 0 for PPO
  std::uint64_t seed = 2;
};

// The reward model's loop: shuffled passes over the prompts, prompts_per_step a step, the
// prompts shared among the threads, AdamW on the trunk and the same update on the head.
template <typename S = float>
class RewardTrainer {
 public:
  RewardTrainer(const RewardModel<S>& rm, std::vector<PreferenceGroup> groups, const RewardOptions& options)
      : rm_(rm), groups_(std::move(groups)), options_(options), optimizer_(rm.config(), options.adamw), rng_(options.seed),
        hm_(RowVector<S>::Zero(rm.score_weight().size())), hv_(hm_) {
    options.adamw.validate();
    if (options.prompts_per_step < 1 || options.steps < 0) throw ArgumentError("RewardOptions: prompts_per_step >= 1, steps >= 0");
    for (auto it = groups_.begin(); it != groups_.end();)  // prompts whose answers all tie teach nothing
      it = it->pairs.empty() ? groups_.erase(it) : it + 1;
    if (groups_.empty()) throw ArgumentError("RewardTrainer: no prompt has a pair");
    const Index n = std::max<Index>(1, std::min<Index>(options.prompts_per_step, detail::max_threads()));
    acts_.resize(static_cast<std::size_t>(n));
    grads_.assign(static_cast<std::size_t>(n), Parameters<S>(rm.config()));
    dws_.assign(static_cast<std::size_t>(n), RowVector<S>::Zero(rm.score_weight().size()));
  }

  RewardModel<S>& model() { return rm_; }
  const RewardModel<S>& model() const { return rm_; }
  bool done() const { return step_ >= options_.steps; }
  Index step_count() const { return step_; }

  // One optimiser step over prompts_per_step prompts; returns the batch's loss and accuracy.
  RewardBatchResult step() {
    std::vector<const PreferenceGroup*> batch;
    for (Index i = 0; i < options_.prompts_per_step; ++i) batch.push_back(&groups_[next_group()]);
    const Index n = static_cast<Index>(acts_.size()), G = static_cast<Index>(batch.size());
    Index total = 0;
    for (const PreferenceGroup* g : batch) total += static_cast<Index>(g->pairs.size());
    std::vector<RewardBatchResult> parts(static_cast<std::size_t>(n));
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
    detail::parallel_tasks(n, [&](Index s) {
      const auto si = static_cast<std::size_t>(s);
      grads_[si].zero();
      dws_[si].setZero();
      const std::vector<const PreferenceGroup*> mine(batch.begin() + G * s / n, batch.begin() + G * (s + 1) / n);
      Index pairs = 0;
      for (const PreferenceGroup* g : mine) pairs += static_cast<Index>(g->pairs.size());
      try {  // the shard's mean, weighted by its share of the pairs
        parts[si] = reward_batch(rm_, acts_[si], mine, options_.bt, &grads_[si], &dws_[si],
                                 static_cast<double>(pairs) / static_cast<double>(total));
      } catch (...) {
        errors[si] = std::current_exception();
      }
    });
    RewardBatchResult out;
    for (std::size_t s = 0; s < parts.size(); ++s) {
      if (errors[s]) std::rethrow_exception(errors[s]);
      out.pairs += parts[s].pairs;
      out.loss += parts[s].loss * static_cast<double>(parts[s].pairs);
      out.accuracy += parts[s].accuracy * static_cast<double>(parts[s].pairs);
      if (s > 0) {
        grads_[0].flat() += grads_[s].flat();
        dws_[0] += dws_[s];
      }
    }
    out.loss /= static_cast<double>(out.pairs);
    out.accuracy /= static_cast<double>(out.pairs);
    // The clip covers trunk and head together: one gradient vector.
    const double gn = grad_norm(grads_[0]), hn = static_cast<double>(dws_[0].norm());
    const double norm = std::sqrt(gn * gn + hn * hn);
    if (!std::isfinite(out.loss) || !std::isfinite(norm))
      throw ArgumentError("reward model step " + std::to_string(step_ + 1) + ": the loss or the gradient is not finite");
    const double lr = options_.lr(step_), scale = clip_scale(norm, options_.grad_clip);
    const std::string bad = optimizer_.step(rm_.trunk().parameters(), grads_[0], lr, scale);
    if (!bad.empty()) throw ArgumentError("reward model step " + std::to_string(step_ + 1) + ": weight " + bad + " is not finite");
    head_step(dws_[0] * static_cast<S>(scale), lr);
    ++step_;
    return out;
  }

  // Loss and pairwise accuracy over every pair of `groups` (e.g. the held-out comparisons).
  RewardBatchResult evaluate(const std::vector<PreferenceGroup>& groups) {
    RewardBatchResult out;
    for (std::size_t i = 0; i < groups.size(); i += 16) {
      std::vector<const PreferenceGroup*> chunk;
      for (std::size_t k = i; k < std::min(groups.size(), i + 16); ++k) chunk.push_back(&groups[k]);
      const RewardBatchResult r = reward_batch(rm_, acts_[0], chunk, options_.bt);
      out.loss += r.loss * static_cast<double>(r.pairs);
      out.accuracy += r.accuracy * static_cast<double>(r.pairs);
      out.pairs += r.pairs;
    }
    if (out.pairs > 0) {
      out.loss /= static_cast<double>(out.pairs);
      out.accuracy /= static_cast<double>(out.pairs);
    }
    return out;
  }

 private:
  std::size_t next_group() {
    if (cursor_ >= order_.size()) {
      order_.resize(groups_.size());
      for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
      shuffle(order_, rng_);
      cursor_ = 0;
    }
    return order_[cursor_++];
  }

  // Adam on the head, as AdamW (adamw.hpp) does on the trunk (the head is not decayed).
  void head_step(const RowVector<S>& g, double lr) {
    const double b1 = options_.adamw.beta1, b2 = options_.adamw.beta2;
    ++head_t_;
    hm_ = static_cast<S>(b1) * hm_ + static_cast<S>(1 - b1) * g;
    hv_ = static_cast<S>(b2) * hv_ + static_cast<S>(1 - b2) * g.cwiseProduct(g);
    const double bias1 = 1 - std::pow(b1, static_cast<double>(head_t_)), bias2 = 1 - std::pow(b2, static_cast<double>(head_t_));
    const S step = static_cast<S>(lr / bias1), inv = static_cast<S>(1 / std::sqrt(bias2)), eps = static_cast<S>(options_.adamw.eps);
    rm_.score_weight().array() -= step * hm_.array() / (hv_.array().sqrt() * inv + eps);
  }

  RewardModel<S> rm_;
  std::vector<PreferenceGroup> groups_;
  RewardOptions options_;
  AdamW<S> optimizer_;
  Rng rng_;
  RowVector<S> hm_, hv_;
  Index head_t_ = 0;
  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
  Index step_ = 0;
  std::vector<GPTActivations<S>> acts_;
  std::vector<Parameters<S>> grads_;
  std::vector<RowVector<S>> dws_;
};

// ---- a yardstick: what the language model's own likelihood knows ----

// The share of pairs whose chosen answer the language model itself finds more probable,
//   log π(prompt + chosen) > log π(prompt + rejected)
// (sequence log-likelihood, Σ_t log π(id_t | ids before t) from the second token; the prompt
// is the same in both, so this compares log π(answer | prompt)). A reward model starts from
// this model; how often its likelihood already orders the labeler's pairs says how much of
// the labeler's rule ("correct over wrong") the trunk knows, and so what a reward model on
// top of it could hope to learn. A tie counts as wrong, as in pairwise_accuracy.
//   Shapes: groups (their sequences, ids) -> one share; a forward pass per group.
// Example: a model that gives " Busan\n" log-probability −0.5 and " Jeju\n" −3.0 after
//   "Q: Where does Mina Park live?\nA:" ranks the pair (chosen " Busan\n", rejected " Jeju\n")
//   right: accuracy 1 for that one pair.
template <typename S>
double likelihood_pairwise_accuracy(const GPT<S>& model, const std::vector<PreferenceGroup>& groups) {
  GPTActivations<S> a;
  Index right = 0, total = 0;
  for (const PreferenceGroup& g : groups) {
    if (g.pairs.empty()) continue;
    const PaddedSequences p = pad_sequences(g.sequences);
    if (p.T > model.config().n_positions)
      throw ArgumentError("likelihood_pairwise_accuracy: a sequence of " + std::to_string(p.T) +
                          " tokens is past the block size " + std::to_string(model.config().n_positions));
    std::vector<TokenId> next(p.ids.size(), 0);  // the token after each position (0 past the end)
    for (Index b = 0; b < p.B; ++b)
      for (Index t = 0; t + 1 < p.lengths[static_cast<std::size_t>(b)]; ++t)
        next[static_cast<std::size_t>(b * p.T + t)] = p.ids[static_cast<std::size_t>(b * p.T + t + 1)];
    const Tensor<S>& logits = model.forward(a, p.ids, p.B, p.T);  // (B, T, V)
    const std::vector<S> lp = token_log_probs<S>(logits.matrix(), next.data());
    std::vector<double> seq(static_cast<std::size_t>(p.B), 0.0);
    for (Index b = 0; b < p.B; ++b)
      for (Index t = 0; t + 1 < p.lengths[static_cast<std::size_t>(b)]; ++t)
        seq[static_cast<std::size_t>(b)] += static_cast<double>(lp[static_cast<std::size_t>(b * p.T + t)]);
    for (const auto& [c, r] : g.pairs) right += seq[static_cast<std::size_t>(c)] > seq[static_cast<std::size_t>(r)];
    total += static_cast<Index>(g.pairs.size());
  }
  if (total == 0) throw ArgumentError("likelihood_pairwise_accuracy: no pairs");
  return static_cast<double>(right) / static_cast<double>(total);
}

}  // namespace minigpt
