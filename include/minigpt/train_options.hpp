// minigpt/train_options.hpp — the settings of a pre-training (사전 학습) run.
//
// Chapter idea: how a GPT is pre-trained is fixed by a few numbers besides its size: how many
// windows of how many tokens each step reads (B, T), how many steps, how fast it learns (the
// learning-rate schedule), AdamW's constants, and the seed every random draw follows. The
// defaults are nanoGPT's shakespeare_char recipe at its CPU scale ("baby GPT").
//
// The fields are listed once, in TrainOptions::for_each_field: the checkpoint's
// trainer_state.json (training_checkpoint.hpp) and equality follow from that table.
//
// Shapes in: none.  Shapes out: none.
//
// Example:
//     TrainOptions o;            // B 12, T 64, 2,000 steps, lr 1e-3 warm-up 100, cosine to 1e-4
//     o.max_iters = 500;
//     o.validate(config);        // block_size within the model's n_positions, ...
#pragma once

#include "adamw.hpp"
#include "config.hpp"
#include "detail/fields.hpp"
#include "error.hpp"
#include "lr_schedule.hpp"
#include "token_id.hpp"

#include <cmath>
#include <cstdint>
#include <string>

namespace minigpt {

struct TrainOptions {
  Index batch_size = 12;        // B: windows per micro-batch
  Index block_size = 64;        // T: tokens per window (at most the config's n_positions)
  Index grad_accum_steps = 1;   // micro-batches per optimiser step
  Index max_iters = 2000;       // optimiser steps in the whole run
  LearningRateSchedule lr{1e-3, 1e-4, 100, 2000};  // warm-up 100, cosine down to 1e-4 at 2000
  AdamWOptions adamw{0.9, 0.99, 1e-8, 0.1};        // beta1, beta2, eps, weight decay
  double grad_clip = 1.0;       // clip the gradient's length to this (0: no clipping)
  Index eval_iters = 20;        // batches per loss estimate in evaluate()
  std::uint64_t seed = 1337;    // weights, batches and dropout all follow from it
  // Data parallelism: each micro-batch is cut into this many shards of whole sequences, each
  // run forward and backward on its own thread (the weights shared, the activations and
  // gradients its own); their gradients are then added up. 0: one shard per thread for
  // models of up to 20M parameters (whose matrix products are too small to share well),
  // else 1 (the products themselves are shared among the threads). The results depend on
  // the number of shards (sums are split differently), never on the number of threads; a
  // checkpoint keeps the number.
  Index shards = 0;

  // THE field table (detail/fields.hpp), under the names trainer_state.json uses.
  template <typename F, typename... Self>
  static void for_each_field(F&& field, Self&... o) {
    using detail::required;
    field("batch_size", required, o.batch_size...);
    field("block_size", required, o.block_size...);
    field("grad_accum_steps", required, o.grad_accum_steps...);
    field("max_iters", required, o.max_iters...);
    field("max_lr", required, o.lr.max_lr...);
    field("min_lr", required, o.lr.min_lr...);
    field("warmup", required, o.lr.warmup...);
    field("decay_steps", required, o.lr.decay_steps...);
    field("beta1", required, o.adamw.beta1...);
    field("beta2", required, o.adamw.beta2...);
    field("eps", required, o.adamw.eps...);
    field("weight_decay", required, o.adamw.weight_decay...);
    field("grad_clip", required, o.grad_clip...);
    field("eval_iters", required, o.eval_iters...);
    field("shards", required, o.shards...);
    field("seed", required, o.seed...);
  }

  void validate(const GPTConfig& config) const {
    auto bad = [](const std::string& what) { throw ArgumentError("training options: " + what); };
    if (batch_size <= 0) bad("batch_size must be >= 1");
    if (block_size <= 0 || block_size > config.n_positions)
      bad("block_size must be in 1.." + std::to_string(config.n_positions) + " (the model's n_positions), got " +
          std::to_string(block_size));
    if (grad_accum_steps <= 0) bad("grad_accum_steps must be >= 1");
    if (max_iters < 0) bad("max_iters must be >= 0");
    if (!(grad_clip >= 0.0) || !std::isfinite(grad_clip)) bad("grad_clip must be a finite number >= 0");
    if (eval_iters <= 0) bad("eval_iters must be >= 1");
    if (shards < 0) bad("shards must be >= 0 (0: automatic)");
    lr.validate();
    adamw.validate();
  }
};

inline bool operator==(const TrainOptions& a, const TrainOptions& b) { return detail::fields_equal(a, b); }
inline bool operator!=(const TrainOptions& a, const TrainOptions& b) { return !(a == b); }

}  // namespace minigpt
