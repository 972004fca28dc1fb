// minigpt/evaluation.hpp — measuring the loss (손실) of a model on a text, without training.
//
// Chapter idea: the number the scaling laws (스케일링 법칙) plot is the loss on text the model
// never trained on: the validation loss. Measuring it is a forward pass and the loss, no
// backward and no dropout, over windows of T tokens:
//
//     dataset_loss: every position of consecutive windows covering the whole text (exact: the
//                   number a final result should quote);
//     a few randomly placed batches (Trainer::estimate_loss, nanoGPT's estimate): cheap, a
//                   little noisy, used to follow a run.
//
// Several batches are spread over the threads, each forward pass with its own activations
// (gpt.hpp's GPTActivations) over the same weights.
//
// Shapes: tokens (n) -> windows (B, T) -> logits (B, T, V) -> one number.
//
// Example:
//     double val = dataset_loss(model, split.val, /*B*/ 12, /*T*/ 64);   // e.g. 1.8151
#pragma once

#include "data_loader.hpp"
#include "detail/parallel.hpp"
#include "error.hpp"
#include "gpt.hpp"
#include "loss.hpp"
#include "token_id.hpp"

#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace minigpt {

// Consecutive windows of T tokens covering `tokens` (a last partial window left out), B per
// batch: every position of the sequence once.
inline std::vector<Batch> consecutive_batches(const std::vector<TokenId>& tokens, Index B, Index T) {
  std::vector<Batch> batches;
  if (static_cast<Index>(tokens.size()) < T + 1) return batches;
  const DataLoader windows(tokens, B, T, 0);
  std::vector<Index> starts;
  for (Index s = 0; s + T + 1 <= static_cast<Index>(tokens.size()); s += T) {
    starts.push_back(s);
    if (static_cast<Index>(starts.size()) == B) batches.push_back(windows.batch_at(std::exchange(starts, {})));
  }
  if (!starts.empty()) batches.push_back(windows.batch_at(starts));
  return batches;
}

// The mean loss over all positions of the batches, from each batch's mean loss.
inline double mean_over_positions(const std::vector<Batch>& batches, const std::vector<double>& losses) {
  double total = 0.0, positions = 0.0;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const double n = static_cast<double>(batches[i].B * batches[i].T);
    total += losses[i] * n;
    positions += n;
  }
  return positions > 0 ? total / positions : std::numeric_limits<double>::quiet_NaN();
}

// The mean loss of one batch: forward only (no dropout, nothing kept for backward).
template <typename S>
double batch_loss(const GPT<S>& model, GPTActivations<S>& a, const Batch& batch) {
  const Tensor<S>& logits = model.forward(a, batch.inputs.data(), batch.B, batch.T);
  return static_cast<double>(cross_entropy<S>(logits.matrix(), batch.targets.data()));
}

// Each batch's loss. With one set of activations, one batch after another, each forward pass
// sharing its products among the threads; with several, whole batches are shared among them,
// one thread each. The results do not depend on how many threads run them.
template <typename S>
std::vector<double> batch_losses(const GPT<S>& model, std::vector<GPTActivations<S>>& acts,
                                 const std::vector<Batch>& batches) {
  const auto n = static_cast<Index>(batches.size()), workers = static_cast<Index>(acts.size());
  std::vector<double> losses(batches.size());
  if (workers <= 1) {
    GPTActivations<S> local;
    GPTActivations<S>& a = workers == 1 ? acts[0] : local;
    for (std::size_t i = 0; i < batches.size(); ++i) losses[i] = batch_loss(model, a, batches[i]);
    return losses;
  }
  std::vector<std::exception_ptr> errors(acts.size());
  detail::parallel_tasks(workers, [&](Index w) {
    try {
      for (Index i = w; i < n; i += workers)
        losses[static_cast<std::size_t>(i)] =
            batch_loss(model, acts[static_cast<std::size_t>(w)], batches[static_cast<std::size_t>(i)]);
    } catch (...) {
      errors[static_cast<std::size_t>(w)] = std::current_exception();  // exceptions may not leave an OpenMP thread
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return losses;
}

// The mean loss of `model` over a whole token sequence: every position of consecutive windows
// of T tokens (the last partial window left out), B windows per forward pass.
//   Shapes: tokens (n) -> windows (B, T) -> one number.
template <typename S>
double dataset_loss(const GPT<S>& model, const std::vector<TokenId>& tokens, Index B, Index T) {
  if (B <= 0 || T <= 0 || T > model.config().n_positions)
    throw ArgumentError("dataset_loss: B must be >= 1 and T in 1.." + std::to_string(model.config().n_positions));
  const std::vector<Batch> batches = consecutive_batches(tokens, B, T);
  std::vector<GPTActivations<S>> one(1);
  return mean_over_positions(batches, batch_losses(model, one, batches));
}

}  // namespace minigpt
