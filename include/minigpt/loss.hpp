// minigpt/loss.hpp — the loss (손실): how wrong the next-token predictions are.
//
// Chapter idea: training pushes the loss down. For each position the model gives a score
// (logit) to every token of the vocabulary; softmax turns the scores into probabilities, and
// the loss is −log of the probability given to the token that actually came next, averaged
// over all B*T positions. A model that guesses uniformly over V tokens scores log V (4.17 for
// 65 characters); a perfect one scores 0. The scaling-law plots in the chapter are this
// number, falling as models, data and compute grow.
//
//     p[n]  = softmax(logits[n])                   (V)
//     loss  = (1/N) Σ_n −log p[n][targets[n]]
//     dlogits[n] = (p[n] − onehot(targets[n])) / N
//
// Shapes: logits (N, V), targets (N) -> loss (scalar); dlogits (N, V).   N = B*T
//
// Two more uses of the same numbers, for fine-tuning (미세 조정) after pre-training:
//   - the loss on part of a text only: SFT learns to write the answer, not the question, so
//     the question's positions get the target ignore_index (−1, as in nanoGPT) and count for
//     nothing; the mean is over the others;
//   - the log-probability of each given token, log p[n][targets[n]] (N), with its backward:
//     what RLHF's PPO and its KL penalty are made of (ppo.hpp), and a model's confidence in an
//     answer (the sum over the answer's tokens). And the entropy of each prediction,
//     −Σ p log p (N): how unsure the model is at each position.
//
// Example: V = 2, logits = [[0 0]], target 1  ->  p = [0.5 0.5], loss = log 2 = 0.6931,
//          dlogits = [[0.5 −0.5]]
#pragma once

#include "detail/parallel.hpp"
#include "error.hpp"
#include "tensor.hpp"
#include "token_id.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace minigpt {

// The target of a position left out of the loss.
constexpr TokenId ignore_index = -1;

namespace detail {

// Every target must be an id of the vocabulary (or ignore_index, where allowed).
inline void check_targets(const TokenId* targets, Index N, Index V, const char* who, bool allow_ignore) {
  for (Index n = 0; n < N; ++n)
    if (!(allow_ignore && targets[n] == ignore_index) && (targets[n] < 0 || targets[n] >= V))
      throw token_id_error(who, targets[n], "(row " + std::to_string(n) + ")", V);
}

// log Σ exp(row), computed from the row's maximum so that nothing overflows.
template <typename Row>
auto log_sum_exp(const Row& row) {
  const auto max = row.maxCoeff();
  return max + std::log((row - max).exp().sum());
}

}  // namespace detail

// Mean cross-entropy of logits (N, V) against targets (N). When dlogits is non-null it
// receives d loss / d logits (N, V). Targets outside 0..V-1 are an ArgumentError, except
// ignore_index where masked = true: those rows add nothing (their dlogits row is 0) and the
// mean is over the others (an error when every row is ignored).
//   Example (masked): V = 2, logits [[0 0], [0 0]], targets [−1, 1] -> loss log 2, dlogits
//   [[0 0], [0.5 −0.5]]
template <typename S>
S cross_entropy(const ConstMatrixRef<S>& logits, const TokenId* targets, MatrixRef<S>* dlogits = nullptr,
                bool masked = false) {
  const Index N = logits.rows(), V = logits.cols();
  detail::check_targets(targets, N, V, "cross_entropy", masked);
  Index counted = 0;
  for (Index n = 0; n < N; ++n) counted += targets[n] != ignore_index;
  if (counted == 0) throw ArgumentError("cross_entropy: every position's target is ignore_index: nothing to learn from");
  const S n_counted = static_cast<S>(counted);  // N: the positions counted
  std::vector<double> losses(static_cast<std::size_t>(N), 0.0);
  detail::parallel_for(N, static_cast<double>(4 * V), [&](Index n) {
    if (targets[n] == ignore_index) {
      if (dlogits != nullptr) dlogits->row(n).setZero();
      return;
    }
    const auto row = logits.row(n).array();
    const S log_sum = detail::log_sum_exp(row);                                            // log Σ exp(logits)
    losses[static_cast<std::size_t>(n)] = static_cast<double>(log_sum - row(targets[n]));  // −log p[target]
    if (dlogits != nullptr) {
      auto d = dlogits->row(n).array();
      d = (row - log_sum).exp() / n_counted;  // p / N
      d(targets[n]) -= S(1) / n_counted;      // − onehot / N
    }
  });
  double total = 0.0;
  for (double l : losses) total += l;  // in order: the same sum on any number of threads
  return static_cast<S>(total / static_cast<double>(counted));
}

// logp (N): logp[n] = log softmax(logits[n])[targets[n]] = logits[n][t] − log Σ exp(logits[n]).
//   Example: V = 2, logits [[0 0]], targets [1] -> logp [−0.6931]
template <typename S>
std::vector<S> token_log_probs(const ConstMatrixRef<S>& logits, const TokenId* targets) {
  const Index N = logits.rows(), V = logits.cols();
  detail::check_targets(targets, N, V, "token_log_probs", false);
  std::vector<S> logp(static_cast<std::size_t>(N));
  detail::parallel_for(N, static_cast<double>(3 * V), [&](Index n) {
    const auto row = logits.row(n).array();
    logp[static_cast<std::size_t>(n)] = row(targets[n]) - detail::log_sum_exp(row);
  });
  return logp;
}

// Backward of  logp[n] = logits[n][t] − log Σ exp(logits[n]):
//   dlogits[n] = dlogp[n] · (onehot(t) − softmax(logits[n]))      (overwritten; 0 where dlogp[n] = 0)
template <typename S>
void token_log_probs_backward(MatrixRef<S> dlogits, const S* dlogp, const ConstMatrixRef<S>& logits,
                              const TokenId* targets) {
  const Index N = logits.rows(), V = logits.cols();
  detail::check_targets(targets, N, V, "token_log_probs_backward", false);
  detail::parallel_for(N, static_cast<double>(4 * V), [&](Index n) {
    auto d = dlogits.row(n).array();
    if (dlogp[n] == S(0)) {
      d.setZero();
      return;
    }
    const auto row = logits.row(n).array();
    d = -(row - detail::log_sum_exp(row)).exp() * dlogp[n];  // − p · dlogp
    d(targets[n]) += dlogp[n];                               // + onehot · dlogp
  });
}

// entropy (N): H[n] = −Σ_v p[n][v] log p[n][v], in nats (0: certain; log V: uniform).
template <typename S>
std::vector<S> token_entropy(const ConstMatrixRef<S>& logits) {
  const Index N = logits.rows(), V = logits.cols();
  std::vector<S> h(static_cast<std::size_t>(N));
  detail::parallel_for(N, static_cast<double>(4 * V), [&](Index n) {
    const auto row = logits.row(n).array();
    const auto log_p = row - detail::log_sum_exp(row);
    h[static_cast<std::size_t>(n)] = -(log_p.exp() * log_p).sum();
  });
  return h;
}

}  // namespace minigpt
