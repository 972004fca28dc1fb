// minigpt/ppo.hpp — PPO, the recipe's last step: RLHF (인간 피드백을 이용한 강화학습) with
// proximal policy optimisation (근접 정책 최적화).
//
// Chapter idea: the SFT model (the policy π) answers prompts; the reward model scores each
// whole answer; PPO nudges π toward answers that score higher, while a KL penalty keeps it
// near the SFT model (π_ref), so that it cannot drift into text that fools the reward model.
// This header is the arithmetic of one PPO batch, on numbers the models produced; the
// formulas are those of Hugging Face TRL's PPO trainers (cited at each function), with TRL's
// defaults (PPOConfig below).
//
// A batch holds B responses padded to T tokens; response b is tokens 0 .. L[b]−1 (L[b] >= 1,
// the `lengths`), the rest is padding, where every per-token output is 0. For each response
// token t: logπ[b,t] = log π(token | prompt, earlier tokens) when the answer was sampled,
// logπ_ref[b,t] the same under the frozen SFT model, V[b,t] the value head's estimate before
// the token, and score[b] the reward model's number for the whole answer.
//
//   KL estimate   k1 = logπ − logπ_ref;   k3 = (e^ρ − 1) − ρ, ρ = logπ_ref − logπ   (k3 >= 0)
//   rewards       r[b,t] = −β · kl[b,t]  +  score[b] · [t = L[b] − 1]
//                 (the score at the last token, the KL penalty at every token)
//   GAE           δ_t = r_t + γ V_{t+1} − V_t   (V_{L} = 0: the answer has ended)
//                 A_t = δ_t + γ λ A_{t+1}       (A_{L} = 0),      returns R_t = A_t + V_t
//   whitening     A ← (A − mean(A)) / sqrt(var(A) + 1e-8) over the batch's response tokens
//                 (var with Bessel's correction)
//   policy loss   ratio = e^(logπ_new − logπ_old)
//                 pg = mean over tokens of max(−A·ratio, −A·clip(ratio, 1 − ε, 1 + ε))
//   value loss    V_clip = clip(V_new, V_old − ε_v, V_old + ε_v)
//                 vf = ½ · mean over tokens of max((V_new − R)², (V_clip − R)²)
//   loss          pg + c_v · vf
//   clip fraction the share of tokens where the clipped term is the larger (TRL: pg_clipfrac)
//   or, without a value head (config.advantage = leave_one_out: RLOO, below): K answers to
//                 each prompt, R = score − β·Σ_t kl, A = R − the mean R of the other K − 1,
//                 at every token of the answer; no value loss
//   KL control    fixed β, or Ziegler et al.'s adaptive β:
//                 β ← β · (1 + clip(KL/KL_target − 1, −0.2, 0.2) · n / horizon)
//
// "mean over tokens" is over all response tokens of the (mini)batch together, as TRL's
// masked_mean. logπ_old is logπ at sampling time; logπ_new is recomputed by the policy being
// optimised, epoch after epoch over the same rollouts (ratio = 1 in the first minibatch).
//
// Getting the numbers into that shape: cut_responses turns sampled rows into lengths (each
// answer ends at its first newline), gather_response picks the response tokens' numbers out of
// a forward pass over prompt + response (B, Tseq), scatter_response puts gradients back.
//
// Shapes: logprobs, ref_logprobs, values, rewards, advantages, returns: (B, T), row b holding
// response b; scores (B); lengths (B). Outputs (B, T) or scalars; gradients (B, T).
//
// Example: B = 1, T = L = 2, logπ = [−1 −2], logπ_ref = [−1.5 −1.5], score 1, β = 0.1,
//          V = [0.5 0.8], γ = 1, λ = 0.95:
//   k1 = [0.5 −0.5];  r = [−0.05  1.05]
//   δ_1 = 1.05 + 0 − 0.8 = 0.25 = A_1;  δ_0 = −0.05 + 0.8 − 0.5 = 0.25, A_0 = 0.25 + 0.95·0.25
//   A = [0.4875 0.25], R = [0.9875 1.05], whitened A = [0.7071 −0.7071]
//   logπ_new = [−0.9 −2.5]: ratio = [1.1052 0.6065], clipped [1.1052 0.8]
//   pg = mean(max(−0.7815, −0.7815), max(0.4289, 0.5657)) = −0.1079, clip fraction 0.5
//   d pg / d logπ_new = [−0.7071·1.1052/2, 0] = [−0.3907 0]  (token 1's clipped term wins)
//   V_new = [0.9 0.7]: V_clip = [0.7 0.7]; vf = ½·mean(0.0827, 0.1225) = 0.0513
//   d vf / d V_new = [0 (0.7 − 1.05)/2] = [0 −0.175], value clip fraction 0.5
#pragma once

#include "error.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace minigpt {

// How each answer token's advantage is estimated.
enum class AdvantageEstimator {
  gae,            // PPO's: a value head V and GAE(γ, λ) over the answer's tokens (the default)
  leave_one_out,  // RLOO's: K answers to each prompt; an answer's advantage is its reward
                  // minus the mean reward of the other K − 1 (no value head)
};

enum class KLEstimator {
  k1,  // logπ − logπ_ref: unbiased, can be negative per token
  k3,  // (e^ρ − 1) − ρ with ρ = logπ_ref − logπ: unbiased, never negative, lower variance
};

// TRL's PPOConfig defaults (trl/trainer/ppo_config.py: kl_coef 0.05, kl_estimator "k1",
// cliprange 0.2, cliprange_value 0.2, vf_coef 0.1, gamma 1.0, lam 0.95, num_ppo_epochs 4,
// whiten_rewards False); the adaptive controller's target 6 and horizon 10,000 are the older
// PPOConfig's (init_kl_coef, target, horizon) from Ziegler et al. 2019.
struct PPOConfig {
  double kl_coef = 0.05;          // β: the KL penalty's weight (the initial one when adaptive)
  KLEstimator kl_estimator = KLEstimator::k1;
  double cliprange = 0.2;         // ε of the policy ratio
  double cliprange_value = 0.2;   // ε_v of the value
  double vf_coef = 0.1;           // c_v: the value loss's weight in the total loss
  double gamma = 1.0;             // γ: discount
  double lam = 0.95;              // λ: GAE's bias-variance trade-off
  Index num_ppo_epochs = 4;       // passes over each batch of rollouts
  bool whiten_rewards = false;    // whiten the per-token rewards (not their mean) before GAE
  bool adaptive_kl = false;       // Ziegler et al.'s controller instead of a fixed β
  double kl_target = 6.0;         // the adaptive controller's target KL (nats per answer)
  double kl_horizon = 10000.0;    // ... and horizon (in samples)
  // The baseline: a value head and GAE (PPO, the default), or the other answers to the same
  // prompt (RLOO: samples_per_prompt answers to each prompt; TRL's RLOOConfig rloo_k, 2 there).
  AdvantageEstimator advantage = AdvantageEstimator::gae;
  Index samples_per_prompt = 4;   // K of leave_one_out (ignored by gae)
  bool whiten_advantages = true;  // leave_one_out: whiten the answers' advantages over the batch
                                  // (TRL's RLOO normalize_advantage); gae always whitens
  // T of the policy PPO trains: answers are drawn from softmax(logits / T), and every log-
  // probability, entropy and KL is read from that distribution, the reference's too (TRL's
  // `temperature`, 0.7 in its PPOConfig). 1 is the model's own distribution; below 1 PPO
  // optimises the sharper policy that greedy answers come closer to.
  double temperature = 1.0;

  void validate() const {
    auto bad = [](const std::string& what) { throw ArgumentError("PPO config: " + what); };
    if (!(kl_coef >= 0) || !std::isfinite(kl_coef)) bad("kl_coef must be a finite number >= 0");
    if (!(cliprange > 0 && cliprange < 1)) bad("cliprange must be in (0, 1)");
    if (!(cliprange_value > 0) || !std::isfinite(cliprange_value)) bad("cliprange_value must be > 0");
    if (!(vf_coef >= 0) || !std::isfinite(vf_coef)) bad("vf_coef must be >= 0");
    if (!(gamma >= 0 && gamma <= 1)) bad("gamma must be in [0, 1]");
    if (!(lam >= 0 && lam <= 1)) bad("lam must be in [0, 1]");
    if (num_ppo_epochs < 1) bad("num_ppo_epochs must be >= 1");
    if (!(kl_target > 0) || !std::isfinite(kl_target)) bad("kl_target must be > 0");
    if (!(kl_horizon > 0) || !std::isfinite(kl_horizon)) bad("kl_horizon must be > 0");
    if (!(temperature > 0) || !std::isfinite(temperature)) bad("temperature must be a finite number > 0");
    if (advantage == AdvantageEstimator::leave_one_out && samples_per_prompt < 2)
      bad("samples_per_prompt must be >= 2 for leave-one-out advantages (the others are the baseline)");
  }
};

namespace detail {

// Every (B, T) argument has the same shape, and 1 <= lengths[b] <= T.
template <typename S>
void check_responses(const char* who, const std::vector<Index>& lengths, std::initializer_list<const Matrix<S>*> ms) {
  const Matrix<S>& first = **ms.begin();
  const Index B = first.rows(), T = first.cols();
  for (const Matrix<S>* m : ms)
    if (m->rows() != B || m->cols() != T)
      throw ArgumentError(std::string(who) + ": every (B, T) argument must have the same shape; got (" +
                          std::to_string(B) + ", " + std::to_string(T) + ") and (" + std::to_string(m->rows()) + ", " +
                          std::to_string(m->cols()) + ")");
  if (static_cast<Index>(lengths.size()) != B)
    throw ArgumentError(std::string(who) + ": " + std::to_string(lengths.size()) + " lengths for B = " +
                        std::to_string(B) + " responses");
  for (std::size_t b = 0; b < lengths.size(); ++b)
    if (lengths[b] < 1 || lengths[b] > T)
      throw ArgumentError(std::string(who) + ": response " + std::to_string(b) + " has length " +
                          std::to_string(lengths[b]) + "; lengths must be in 1.." + std::to_string(T));
}

// The number of response tokens (the mean's denominator).
inline Index token_count(const std::vector<Index>& lengths) {
  Index n = 0;
  for (Index l : lengths) n += l;
  return n;
}

}  // namespace detail

// The (B, T) mask of response tokens: 1 where t < lengths[b], else 0.
template <typename S>
Matrix<S> response_mask(const std::vector<Index>& lengths, Index T) {
  Matrix<S> mask = Matrix<S>::Zero(static_cast<Index>(lengths.size()), T);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 1 || lengths[b] > T)
      throw ArgumentError("response_mask: response " + std::to_string(b) + " has length " + std::to_string(lengths[b]) +
                          "; lengths must be in 1.." + std::to_string(T));
    mask.row(static_cast<Index>(b)).head(lengths[b]).setOnes();
  }
  return mask;
}

// ---- from sampled rows to a response batch ----

// What sampling produced, cut as TRL's truncate_response does: each row ends at its first stop
// token (kept: the newline is part of the answer " Busan\n"); a row without one keeps all its
// tokens and counts as not ended (the answer never finished: off-format for the labeler).
struct ResponseCut {
  std::vector<Index> lengths;  // (B): tokens kept, >= 1
  std::vector<bool> ended;     // (B): the stop token was sampled
  double ended_share = 0;      // the share of rows that ended (report it: a reward that never
                               // comes because no answer ends is a known PPO failure)
};

inline ResponseCut cut_responses(const std::vector<std::vector<TokenId>>& rows, TokenId stop_token) {
  ResponseCut cut;
  Index ended = 0;
  for (std::size_t b = 0; b < rows.size(); ++b) {
    if (rows[b].empty()) throw ArgumentError("cut_responses: row " + std::to_string(b) + " has no tokens");
    const auto at = std::find(rows[b].begin(), rows[b].end(), stop_token);
    cut.ended.push_back(at != rows[b].end());
    cut.lengths.push_back(static_cast<Index>(at != rows[b].end() ? at - rows[b].begin() + 1 : rows[b].end() - rows[b].begin()));
    ended += cut.ended.back();
  }
  cut.ended_share = rows.empty() ? 0.0 : static_cast<double>(ended) / static_cast<double>(rows.size());
  return cut;
}

// Sequences of prompt + response, right-padded to Tseq: row b is prompt b (prompt_lengths[b]
// tokens), then response b (lengths[b] tokens), then padding. Causal attention never looks
// right, so the padding changes nothing before it. The hidden state at position i predicts
// token i + 1: response token t (at P_b + t) gets its log-probability and its value V_t from
// position P_b + t − 1 (TRL: logits[:, context_length - 1 : -1]).
//
// gather_response: per_position (B, Tseq), one number per position (e.g. log-probabilities of
// the next tokens, or value-head outputs) -> (B, T) per response token, 0 at padding.
template <typename S>
Matrix<S> gather_response(const Matrix<S>& per_position, const std::vector<Index>& prompt_lengths,
                          const std::vector<Index>& lengths, Index T) {
  const Index B = per_position.rows(), Tseq = per_position.cols();
  if (static_cast<Index>(prompt_lengths.size()) != B || static_cast<Index>(lengths.size()) != B)
    throw ArgumentError("gather_response: need one prompt length and one response length per row");
  Matrix<S> out = Matrix<S>::Zero(B, T);
  for (Index b = 0; b < B; ++b) {
    const Index P = prompt_lengths[static_cast<std::size_t>(b)], L = lengths[static_cast<std::size_t>(b)];
    if (P < 1 || L < 1 || L > T || P + L > Tseq)
      throw ArgumentError("gather_response: row " + std::to_string(b) + ": prompt " + std::to_string(P) +
                          " + response " + std::to_string(L) + " tokens do not fit " + std::to_string(Tseq) +
                          " positions (or T = " + std::to_string(T) + ")");
    out.row(b).head(L) = per_position.row(b).segment(P - 1, L);
  }
  return out;
}

// Backward of gather_response: the (B, T) gradient put back at the positions it came from;
// every other position 0. Returns (B, Tseq).
template <typename S>
Matrix<S> scatter_response(const Matrix<S>& per_token, const std::vector<Index>& prompt_lengths,
                           const std::vector<Index>& lengths, Index Tseq) {
  const Index B = per_token.rows();
  if (static_cast<Index>(prompt_lengths.size()) != B || static_cast<Index>(lengths.size()) != B)
    throw ArgumentError("scatter_response: need one prompt length and one response length per row");
  Matrix<S> out = Matrix<S>::Zero(B, Tseq);
  for (Index b = 0; b < B; ++b) {
    const Index P = prompt_lengths[static_cast<std::size_t>(b)], L = lengths[static_cast<std::size_t>(b)];
    if (P < 1 || L < 1 || L > per_token.cols() || P + L > Tseq)
      throw ArgumentError("scatter_response: row " + std::to_string(b) + " does not fit");
    out.row(b).segment(P - 1, L) = per_token.row(b).head(L);
  }
  return out;
}

// ---- masked statistics (TRL core.py / ppo_trainer.py: masked_mean, masked_var, masked_whiten) ----

// Σ x·mask / Σ mask.
template <typename S>
S masked_mean(const Matrix<S>& x, const Matrix<S>& mask) {
  if (x.rows() != mask.rows() || x.cols() != mask.cols()) throw ArgumentError("masked_mean: x and mask differ in shape");
  const S n = mask.sum();
  if (!(n > S(0))) throw ArgumentError("masked_mean: the mask selects nothing");
  return (x.array() * mask.array()).sum() / n;
}

// The variance over the mask; unbiased: times n / (n − 1) (Bessel), as TRL's default.
template <typename S>
S masked_var(const Matrix<S>& x, const Matrix<S>& mask, bool unbiased = true) {
  const S mean = masked_mean(x, mask);
  const S n = mask.sum();
  const S var = ((x.array() - mean).square() * mask.array()).sum() / n;
  if (!unbiased) return var;
  if (!(n > S(1))) throw ArgumentError("masked_var: the unbiased variance needs at least 2 masked values");
  return var * n / (n - S(1));
}

// (x − mean) / sqrt(var + 1e-8) with the masked mean and unbiased variance, at every position
// (TRL fills the padding afterwards); shift_mean = false adds the mean back (whitens the
// spread only, as TRL does for rewards).
template <typename S>
Matrix<S> masked_whiten(const Matrix<S>& x, const Matrix<S>& mask, bool shift_mean = true) {
  const S mean = masked_mean(x, mask), var = masked_var(x, mask);
  Matrix<S> w = ((x.array() - mean) / std::sqrt(var + S(1e-8))).matrix();
  if (!shift_mean) w.array() += mean;
  return w;
}

// ---- the KL penalty (TRL PPOTrainer: kl = -logr if k1 else (logr.exp() - 1) - logr) ----

// kl (B, T) per response token, 0 at padding.
template <typename S>
Matrix<S> kl_estimate(const Matrix<S>& logprobs, const Matrix<S>& ref_logprobs, const std::vector<Index>& lengths,
                      KLEstimator estimator = KLEstimator::k1) {
  detail::check_responses<S>("kl_estimate", lengths, {&logprobs, &ref_logprobs});
  Matrix<S> kl = Matrix<S>::Zero(logprobs.rows(), logprobs.cols());
  for (Index b = 0; b < kl.rows(); ++b)
    for (Index t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
      const S rho = ref_logprobs(b, t) - logprobs(b, t);  // log(π_ref / π)
      kl(b, t) = estimator == KLEstimator::k1 ? -rho : std::expm1(rho) - rho;
    }
  return kl;
}

// Backward of  k1 = logπ − logπ_ref  and  k3 = (e^ρ − 1) − ρ, ρ = logπ_ref − logπ, in logπ:
//   d logπ = dkl                 (k1)
//   d logπ = dkl · (1 − e^ρ)     (k3: dk3/dρ = e^ρ − 1, dρ/dlogπ = −1)          (overwritten)
template <typename S>
void kl_estimate_backward(Matrix<S>& d_logprobs, const Matrix<S>& dkl, const Matrix<S>& logprobs,
                          const Matrix<S>& ref_logprobs, const std::vector<Index>& lengths,
                          KLEstimator estimator = KLEstimator::k1) {
  detail::check_responses<S>("kl_estimate_backward", lengths, {&logprobs, &ref_logprobs, &dkl});
  d_logprobs = Matrix<S>::Zero(logprobs.rows(), logprobs.cols());
  for (Index b = 0; b < logprobs.rows(); ++b)
    for (Index t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
      const S rho = ref_logprobs(b, t) - logprobs(b, t);
      d_logprobs(b, t) = estimator == KLEstimator::k1 ? dkl(b, t) : -dkl(b, t) * std::expm1(rho);
    }
}

// The KL of each whole answer, Σ_t kl[b, t] (B); TRL reports its mean as objective/kl
// (mean_kl = kl.sum(1).mean()), and the adaptive controller steers it.
template <typename S>
RowVector<S> sequence_kl(const Matrix<S>& kl, const std::vector<Index>& lengths) {
  detail::check_responses<S>("sequence_kl", lengths, {&kl});
  RowVector<S> out(kl.rows());
  for (Index b = 0; b < kl.rows(); ++b) out(b) = kl.row(b).head(lengths[static_cast<std::size_t>(b)]).sum();
  return out;
}

template <typename S>
struct ShapedRewards {
  Matrix<S> rewards;            // (B, T): the score at the last token, −β·kl at every token
  Matrix<S> non_score_rewards;  // (B, T): −β·kl
  Matrix<S> kl;                 // (B, T): the KL estimate
};

// TRL's PPOTrainer.compute_rewards (v0.11: non_score_reward = −kl_ctl.value · kl;
// reward[last_non_masked_index] += score). (PPOv2 places the score one position later, at
// sequence_lengths_p1, with the value head reaching one token further; this follows the
// original: the score belongs to the answer's last token.)
template <typename S>
ShapedRewards<S> kl_penalty_rewards(const RowVector<S>& scores, const Matrix<S>& logprobs, const Matrix<S>& ref_logprobs,
                                    const std::vector<Index>& lengths, S kl_coef,
                                    KLEstimator estimator = KLEstimator::k1) {
  detail::check_responses<S>("kl_penalty_rewards", lengths, {&logprobs, &ref_logprobs});
  if (scores.size() != logprobs.rows())
    throw ArgumentError("kl_penalty_rewards: " + std::to_string(scores.size()) + " scores for B = " +
                        std::to_string(logprobs.rows()) + " responses");
  ShapedRewards<S> out;
  out.kl = kl_estimate(logprobs, ref_logprobs, lengths, estimator);
  out.non_score_rewards = -kl_coef * out.kl;  // 0 at padding, as kl is
  out.rewards = out.non_score_rewards;
  for (Index b = 0; b < scores.size(); ++b) out.rewards(b, lengths[static_cast<std::size_t>(b)] - 1) += scores(b);
  return out;
}

// ---- advantages: GAE (Schulman et al. 2016), as TRL's compute_advantages ----

template <typename S>
struct Advantages {
  Matrix<S> advantages;  // (B, T): whitened over the response tokens when asked, 0 at padding
  Matrix<S> returns;     // (B, T): advantages before whitening + values, 0 at padding
};

// GAE over each response, back to front:
//   δ_t = r_t + γ V_{t+1} − V_t,  A_t = δ_t + γλ A_{t+1},  V_L = A_L = 0;   R_t = A_t + V_t.
// Then, as TRL's compute_advantages (v0.11; the same loop in PPOv2's train()), the advantages
// are whitened over all response tokens of the batch (whiten = true) and 0 at padding.
template <typename S>
Advantages<S> gae_advantages(const Matrix<S>& rewards, const Matrix<S>& values, const std::vector<Index>& lengths,
                             S gamma, S lam, bool whiten = true) {
  detail::check_responses<S>("gae_advantages", lengths, {&rewards, &values});
  const Index B = rewards.rows(), T = rewards.cols();
  Advantages<S> out{Matrix<S>::Zero(B, T), Matrix<S>::Zero(B, T)};
  for (Index b = 0; b < B; ++b) {
    const Index L = lengths[static_cast<std::size_t>(b)];
    S next_advantage = 0, next_value = 0;  // A_L = V_L = 0
    for (Index t = L - 1; t >= 0; --t) {
      const S delta = rewards(b, t) + gamma * next_value - values(b, t);
      out.advantages(b, t) = delta + gamma * lam * next_advantage;
      out.returns(b, t) = out.advantages(b, t) + values(b, t);
      next_advantage = out.advantages(b, t);
      next_value = values(b, t);
    }
  }
  if (whiten) {
    const Matrix<S> mask = response_mask<S>(lengths, T);
    out.advantages = (masked_whiten(out.advantages, mask).array() * mask.array()).matrix();
  }
  return out;
}

// The whole step from rewards to advantages with a PPOConfig: optional reward whitening
// (masked_whiten(rewards, mask, shift_mean = false), padding 0), GAE, advantage whitening.
template <typename S>
Advantages<S> compute_advantages(const Matrix<S>& rewards, const Matrix<S>& values, const std::vector<Index>& lengths,
                                 const PPOConfig& config) {
  config.validate();
  if (!config.whiten_rewards)
    return gae_advantages(rewards, values, lengths, static_cast<S>(config.gamma), static_cast<S>(config.lam));
  detail::check_responses<S>("compute_advantages", lengths, {&rewards, &values});
  const Matrix<S> mask = response_mask<S>(lengths, rewards.cols());
  const Matrix<S> whitened = (masked_whiten(rewards, mask, false).array() * mask.array()).matrix();
  return gae_advantages(whitened, values, lengths, static_cast<S>(config.gamma), static_cast<S>(config.lam));
}

// ---- advantages without a value head: the leave-one-out baseline (RLOO) ----
//
// Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization for Learning
// from Human Feedback in LLMs", as TRL's RLOOTrainer: the batch holds K answers to each prompt,
// in groups of K consecutive rows (rows g·K .. g·K + K − 1 answer one prompt); the whole answer
// is one action with one reward, and the other answers to its prompt are its baseline:
//   R[b] = score[b] − β · Σ_t kl[b,t]                     (the answer's KL-penalised reward)
//   A[b] = R[b] − (Σ_{j in b's group, j ≠ b} R[j]) / (K − 1)
//   optionally normalised over the batch's B answers, A ← (A − mean) / (std + 1e-8) with the
//   unbiased std (TRL's normalize_advantage), then
//   A[b,t] = A[b] at every token of answer b (the per-token clipped surrogate below, as GRPO
//   uses; TRL's RLOO clips one ratio per answer instead)
// A prompt whose K answers earn the same reward teaches nothing (all A = 0 before whitening);
// one where the model is mostly wrong but sometimes says "I don't know" pushes the refusal up
// on that prompt's own evidence: the baseline is the prompt's, not a value head's guess shared
// across prompts (the weights are shared all the same, so what is learned on one prompt
// still carries to others).
// returns[b,t] = R[b] at every token (no value head learns from them). (B, T) each, 0 at padding.
//
// Example: K = 2, scores [1 −3 0 0], β = 0 -> R = [1 −3 0 0], A = [4 −4 0 0];
//          whitened (mean 0, sd √(32/3) = 3.266): [1.2247 −1.2247 0 0].
template <typename S>
Advantages<S> leave_one_out_advantages(const RowVector<S>& scores, const Matrix<S>& kl, const std::vector<Index>& lengths,
                                       S kl_coef, Index k, bool whiten = true) {
  detail::check_responses<S>("leave_one_out_advantages", lengths, {&kl});
  const Index B = kl.rows(), T = kl.cols();
  if (scores.size() != B)
    throw ArgumentError("leave_one_out_advantages: " + std::to_string(scores.size()) + " scores for B = " +
                        std::to_string(B) + " answers");
  if (k < 2 || B % k != 0)
    throw ArgumentError("leave_one_out_advantages: B = " + std::to_string(B) + " answers do not split into groups of K = " +
                        std::to_string(k) + " (K >= 2)");
  const RowVector<S> R = scores - kl_coef * sequence_kl(kl, lengths);  // (B)
  RowVector<S> A(B);
  for (Index g = 0; g < B; g += k) {
    const S sum = R.segment(g, k).sum();
    for (Index b = g; b < g + k; ++b) A(b) = R(b) - (sum - R(b)) / static_cast<S>(k - 1);
  }
  if (whiten) {
    if (B < 2) throw ArgumentError("leave_one_out_advantages: whitening needs at least 2 answers");
    const S mean = A.mean();
    const S sd = std::sqrt((A.array() - mean).square().sum() / static_cast<S>(B - 1));
    A = ((A.array() - mean) / (sd + S(1e-8))).matrix();
  }
  Advantages<S> out{Matrix<S>::Zero(B, T), Matrix<S>::Zero(B, T)};
  for (Index b = 0; b < B; ++b) {
    const Index L = lengths[static_cast<std::size_t>(b)];
    out.advantages.row(b).head(L).setConstant(A(b));
    out.returns.row(b).head(L).setConstant(R(b));
  }
  return out;
}

// ---- the clipped surrogate (TRL: pg_losses, pg_losses2, pg_loss, pg_clipfrac) ----

template <typename S>
struct PolicyLoss {
  S loss = 0;           // mean over tokens of max(−A·ratio, −A·clip(ratio, 1 − ε, 1 + ε))
  double clipfrac = 0;  // share of tokens with pg_losses2 > pg_losses
  double approxkl = 0;  // ½ · mean over tokens of (logπ_new − logπ_old)² (TRL v0.11)
};

template <typename S>
PolicyLoss<S> policy_loss(const Matrix<S>& new_logprobs, const Matrix<S>& old_logprobs, const Matrix<S>& advantages,
                          const std::vector<Index>& lengths, S cliprange) {
  detail::check_responses<S>("policy_loss", lengths, {&new_logprobs, &old_logprobs, &advantages});
  PolicyLoss<S> out;
  S total = 0, kl2 = 0;
  Index clipped = 0;
  for (Index b = 0; b < new_logprobs.rows(); ++b)
    for (Index t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
      const S diff = new_logprobs(b, t) - old_logprobs(b, t);
      const S ratio = std::exp(diff);
      const S pg1 = -advantages(b, t) * ratio;
      const S pg2 = -advantages(b, t) * std::clamp(ratio, S(1) - cliprange, S(1) + cliprange);
      total += std::max(pg1, pg2);
      clipped += pg2 > pg1;
      kl2 += diff * diff;
    }
  const auto n = static_cast<double>(detail::token_count(lengths));
  out.loss = total / static_cast<S>(n);
  out.clipfrac = static_cast<double>(clipped) / n;
  out.approxkl = 0.5 * static_cast<double>(kl2) / n;
  return out;
}

// Backward of  loss = (1/N) Σ max(pg1, pg2),  pg1 = −A·ratio,  pg2 = −A·clip(ratio, 1 − ε, 1 + ε),
// ratio = e^(logπ_new − logπ_old), in logπ_new (overwritten; 0 at padding):
//   where pg1 >= pg2, or the ratio is inside [1 − ε, 1 + ε] (then pg1 = pg2):
//       d logπ_new = dloss · (−A · ratio) / N              (d ratio / d logπ_new = ratio)
//   where pg2 > pg1 and the ratio is outside the range: 0 (the clipped term is constant)
template <typename S>
void policy_loss_backward(Matrix<S>& d_new_logprobs, const Matrix<S>& new_logprobs, const Matrix<S>& old_logprobs,
                          const Matrix<S>& advantages, const std::vector<Index>& lengths, S cliprange,
                          S dloss = S(1)) {
  detail::check_responses<S>("policy_loss_backward", lengths, {&new_logprobs, &old_logprobs, &advantages});
  const S n = static_cast<S>(detail::token_count(lengths));
  d_new_logprobs = Matrix<S>::Zero(new_logprobs.rows(), new_logprobs.cols());
  for (Index b = 0; b < new_logprobs.rows(); ++b)
    for (Index t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
      const S ratio = std::exp(new_logprobs(b, t) - old_logprobs(b, t));
      const S pg1 = -advantages(b, t) * ratio;
      const S pg2 = -advantages(b, t) * std::clamp(ratio, S(1) - cliprange, S(1) + cliprange);
      const bool inside = ratio >= S(1) - cliprange && ratio <= S(1) + cliprange;
      if (pg1 >= pg2 || inside) d_new_logprobs(b, t) = dloss * (-advantages(b, t) * ratio) / n;
    }
}

// ---- the clipped value loss (TRL: vpredclipped, vf_losses1, vf_losses2, vf_loss, vf_clipfrac) ----

template <typename S>
struct ValueLoss {
  S loss = 0;           // ½ · mean over tokens of max((V − R)², (V_clip − R)²)
  double clipfrac = 0;  // share of tokens with vf_losses2 > vf_losses1
};

template <typename S>
ValueLoss<S> value_loss(const Matrix<S>& values, const Matrix<S>& old_values, const Matrix<S>& returns,
                        const std::vector<Index>& lengths, S cliprange_value) {
  detail::check_responses<S>("value_loss", lengths, {&values, &old_values, &returns});
  ValueLoss<S> out;
  S total = 0;
  Index clipped = 0;
  for (Index b = 0; b < values.rows(); ++b)
    for (Index t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
      const S v_clip = std::clamp(values(b, t), old_values(b, t) - cliprange_value, old_values(b, t) + cliprange_value);
      const S l1 = (values(b, t) - returns(b, t)) * (values(b, t) - returns(b, t));
      const S l2 = (v_clip - returns(b, t)) * (v_clip - returns(b, t));
      total += std::max(l1, l2);
      clipped += l2 > l1;
    }
  const auto n = static_cast<double>(detail::token_count(lengths));
  out.loss = S(0.5) * total / static_cast<S>(n);
  out.clipfrac = static_cast<double>(clipped) / n;
  return out;
}

// Backward of  loss = ½ (1/N) Σ max((V − R)², (V_clip − R)²),  V_clip = clip(V, V_old − ε_v, V_old + ε_v),
// in V (overwritten; 0 at padding). Pass dloss = vf_coef for the value's share of the total.
//   where (V − R)² >= (V_clip − R)², or V is inside the range (then V_clip = V):
//       d V = dloss · (V − R) / N
//   where the clipped term is larger and V is outside the range: 0
template <typename S>
void value_loss_backward(Matrix<S>& d_values, const Matrix<S>& values, const Matrix<S>& old_values,
                         const Matrix<S>& returns, const std::vector<Index>& lengths, S cliprange_value,
                         S dloss = S(1)) {
  detail::check_responses<S>("value_loss_backward", lengths, {&values, &old_values, &returns});
  const S n = static_cast<S>(detail::token_count(lengths));
  d_values = Matrix<S>::Zero(values.rows(), values.cols());
  for (Index b = 0; b < values.rows(); ++b)
    for (Index t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
      const S lo = old_values(b, t) - cliprange_value, hi = old_values(b, t) + cliprange_value;
      const S v_clip = std::clamp(values(b, t), lo, hi);
      const S l1 = (values(b, t) - returns(b, t)) * (values(b, t) - returns(b, t));
      const S l2 = (v_clip - returns(b, t)) * (v_clip - returns(b, t));
      const bool inside = values(b, t) >= lo && values(b, t) <= hi;
      if (l1 >= l2 || inside) d_values(b, t) = dloss * (values(b, t) - returns(b, t)) / n;
    }
}

// ---- the KL coefficient β: fixed, or adapted to a target (TRL's FixedKLController and
//      AdaptiveKLController, Ziegler et al. 2019, "Fine-Tuning Language Models from Human
//      Preferences") ----
//
//   adaptive:  e = clip(KL / target − 1, −0.2, 0.2);   β ← β · (1 + e · n_steps / horizon)
// where KL is the batch's mean KL per answer (objective/kl) and n_steps the answers in it.
class KLController {
 public:
  static KLController fixed(double kl_coef) { return KLController(kl_coef, false, 1, 1); }
  static KLController adaptive(double init_kl_coef, double target, double horizon) {
    return KLController(init_kl_coef, true, target, horizon);
  }
  static KLController from_config(const PPOConfig& c) {
    return c.adaptive_kl ? adaptive(c.kl_coef, c.kl_target, c.kl_horizon) : fixed(c.kl_coef);
  }

  double value() const { return value_; }
  bool is_adaptive() const { return adaptive_; }

  void update(double current_kl, Index n_steps) {
    if (!adaptive_) return;
    if (!std::isfinite(current_kl)) throw ArgumentError("KLController::update: the KL is not finite");
    if (n_steps < 0) throw ArgumentError("KLController::update: n_steps must be >= 0");
    const double error = std::clamp(current_kl / target_ - 1.0, -0.2, 0.2);
    value_ *= 1.0 + error * static_cast<double>(n_steps) / horizon_;
  }

 private:
  KLController(double value, bool adaptive, double target, double horizon)
      : value_(value), adaptive_(adaptive), target_(target), horizon_(horizon) {
    if (!(value >= 0) || !std::isfinite(value)) throw ArgumentError("KLController: the KL coefficient must be >= 0");
    if (!(target > 0) || !(horizon > 0) || !std::isfinite(target) || !std::isfinite(horizon))
      throw ArgumentError("KLController: target and horizon must be > 0");
  }
  double value_;
  bool adaptive_;
  double target_, horizon_;
};

}  // namespace minigpt
