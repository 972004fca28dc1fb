// minigpt/lr_schedule.hpp — the learning rate over the course of pre-training (사전 학습).
//
// Chapter idea: pre-training is one long descent of the loss (손실). At the start the weights
// are random and the optimiser's running averages are empty, so big steps are dangerous: the
// learning rate warms up linearly from almost 0. Then it follows half a cosine down to a
// floor, so the last steps are small and settle the weights. GPT-3 was trained this way
// (warm-up, then cosine decay to 10% of the peak); so is nanoGPT, whose schedule this is.
//
//     step < warmup:            lr = max_lr · (step + 1) / (warmup + 1)
//     step >= decay_steps:      lr = min_lr     (decay_steps <= warmup: max_lr, no decay)
//     otherwise, with r = (step − warmup) / (decay_steps − warmup):
//                               lr = min_lr + ½ (1 + cos(π r)) · (max_lr − min_lr)
//
// Steps count from 0 (the first update). Shapes in: a step number. Shapes out: a number.
//
// Worked example (max_lr 1e-3, min_lr 1e-4, warmup 100, decay_steps 2000, nanoGPT's
// shakespeare_char schedule):
//     step 0: 9.90e-6    step 99: 9.90e-4    step 100: 1.00e-3
//     step 1050: 5.50e-4 (half way down)     step 2000 and after: 1.00e-4
#pragma once

#include "error.hpp"
#include "token_id.hpp"

#include <cmath>
#include <string>

namespace minigpt {

struct LearningRateSchedule {
  double max_lr = 1e-3;     // the peak, reached at the end of the warm-up
  double min_lr = 1e-4;     // the floor (nanoGPT: max_lr / 10)
  Index warmup = 100;       // steps of linear warm-up
  Index decay_steps = 2000; // where the cosine reaches min_lr (usually max_iters); <= warmup: no decay

  // A schedule that never changes: lr at every step.
  static LearningRateSchedule constant(double lr) { return {lr, lr, 0, 0}; }

  void validate() const {
    auto bad = [](const std::string& what) { throw ArgumentError("learning-rate schedule: " + what); };
    if (!(max_lr >= 0.0) || !std::isfinite(max_lr)) bad("max_lr must be a finite number >= 0");
    if (!(min_lr >= 0.0) || !(min_lr <= max_lr)) bad("min_lr must be in [0, max_lr]");
    if (warmup < 0) bad("warmup must be >= 0");
    if (decay_steps < 0) bad("decay_steps must be >= 0");
  }

  double operator()(Index step) const {
    if (step < warmup)
      return max_lr * static_cast<double>(step + 1) / static_cast<double>(warmup + 1);
    if (decay_steps <= warmup) return max_lr;  // no decay phase
    if (step >= decay_steps) return min_lr;
    const double pi = 3.14159265358979323846;
    const double r = static_cast<double>(step - warmup) / static_cast<double>(decay_steps - warmup);
    return min_lr + 0.5 * (1.0 + std::cos(pi * r)) * (max_lr - min_lr);
  }
};

}  // namespace minigpt
