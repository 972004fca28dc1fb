// minigpt/training_history.hpp — what a training run remembers: its loss, step by step.
//
// Chapter idea: the loss (손실) falling is what learning looks like, and the scaling-law
// (스케일링 법칙) plots of the chapter are made of such records. A run keeps the training loss
// of every optimiser step and, every so often, an estimate of the loss on both splits of the
// text; loss_curve.hpp draws them, training_checkpoint.hpp saves them.
//
// Shapes in: one loss per step.  Shapes out: none.
//
// Example:
//     const TrainingHistory& h = trainer.history();
//     h.train_loss.back();        // the last step's loss
//     h.evals.back().val_loss;    // the last validation estimate
#pragma once

#include "token_id.hpp"

#include <vector>

namespace minigpt {

// What one optimiser step did.
struct StepResult {
  Index step = 0;         // steps done, this one included (1 for the first)
  double loss = 0;        // mean training loss over the step's B·T·k positions
  double grad_norm = 0;   // the gradient's length before clipping
  double lr = 0;          // the learning rate used
  Index tokens = 0;       // positions trained on: B · T · grad_accum_steps
};

// One measurement of the loss on both splits.
struct EvalPoint {
  Index step = 0;
  double train_loss = 0, val_loss = 0;
};

struct TrainingHistory {
  std::vector<double> train_loss;  // one per step: train_loss[i] is step i + 1's loss
  std::vector<EvalPoint> evals;    // every evaluate()
};

}  // namespace minigpt
