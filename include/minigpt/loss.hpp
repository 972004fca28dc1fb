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
// Example: V = 2, logits = [[0 0]], target 1  ->  p = [0.5 0.5], loss = log 2 = 0.6931,
//          dlogits = [[0.5 −0.5]]
#pragma once

#include "detail/parallel.hpp"
#include "error.hpp"
#include "tensor.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace minigpt {

// Mean cross-entropy of logits (N, V) against targets (N). When dlogits is non-null it
// receives d loss / d logits (N, V). Targets outside 0..V-1 are an ArgumentError.
template <typename S>
S cross_entropy(const ConstMatrixRef<S>& logits, const TokenId* targets, MatrixRef<S>* dlogits = nullptr) {
  const Index N = logits.rows(), V = logits.cols();
  for (Index n = 0; n < N; ++n)
    if (targets[n] < 0 || targets[n] >= V)
      throw ArgumentError("cross_entropy: target " + std::to_string(targets[n]) + " at row " + std::to_string(n) +
                          " is outside the vocabulary 0.." + std::to_string(V - 1));
  std::vector<double> losses(static_cast<std::size_t>(N));
  detail::parallel_for(N, static_cast<double>(4 * V), [&](Index n) {
    const auto row = logits.row(n).array();
    const S max = row.maxCoeff();
    const S sum = (row - max).exp().sum();
    const S log_sum = max + std::log(sum);                      // log Σ exp(logits)
    losses[static_cast<std::size_t>(n)] = static_cast<double>(log_sum - row(targets[n]));  // −log p[target]
    if (dlogits != nullptr) {
      auto d = dlogits->row(n).array();
      d = (row - log_sum).exp() / S(N);  // p / N
      d(targets[n]) -= S(1) / S(N);      // − onehot / N
    }
  });
  double total = 0.0;
  for (double l : losses) total += l;  // in order: the same sum on any number of threads
  return static_cast<S>(total / static_cast<double>(N));
}

}  // namespace minigpt
