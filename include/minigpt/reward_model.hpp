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
// Shapes: r_chosen (P), r_rejected (P) -> loss (scalar); d_chosen (P), d_rejected (P).
//
// Example: r_c = [2, 0], r_r = [0, 1]  ->  d = [2, −1]
//   loss = (log(1 + e^−2) + log(1 + e^1)) / 2 = (0.1269 + 1.3133) / 2 = 0.7201
//   d_chosen = [(σ(2) − 1)/2, (σ(−1) − 1)/2] = [−0.0596, −0.3655], d_rejected = −d_chosen
//   accuracy = 1/2
#pragma once

#include "error.hpp"
#include "tensor.hpp"

#include <cmath>
#include <string>

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

}  // namespace minigpt
