// minigpt/training.hpp — the training loop: pre-training (사전 학습) a GPT on a text.
//
// Chapter idea: pre-training is one loop, repeated until the loss (손실) stops falling:
//
//     1. draw a batch of B windows of T tokens from the text        data_loader.hpp
//     2. forward: logits for every position                         gpt.hpp
//     3. loss: how surprised the model was by each next token       loss.hpp
//     4. backward: the gradient of the loss for every parameter     gpt.hpp (each layer's backward)
//     5. clip the gradient's length, then take one AdamW step        adamw.hpp
//        with this step's learning rate                              lr_schedule.hpp
//
// Every so often the loss is measured on the validation text, which the model never trains
// on. The scaling laws (스케일링 법칙) of the chapter are plots of exactly this number, the
// validation loss at the end of training, against the model's size, the data and the compute
// (about 6 · parameters · tokens multiply-adds for forward and backward together).
//
// Gradient accumulation: with grad_accum_steps = k, one step runs k micro-batches of B
// windows and adds up their gradients (each scaled by 1/k) before the update: the same step
// as one batch of k·B windows, in the memory of B. Dropout (the config's embd_pdrop,
// attn_pdrop, resid_pdrop; off when 0) draws its masks from a generator seeded from `seed`.
//
// Determinism: weights, batches and dropout masks all come from generators seeded from
// options.seed, and every sum in the model runs in a fixed order, so the same seed (and the
// same thread count) gives the same run, loss for loss. A checkpoint (training_checkpoint.hpp)
// keeps every piece of state, so a resumed run gives bit for bit the losses of one that never
// stopped.
//
// A non-finite loss or gradient stops training with TrainingDiverged (divergence.hpp), naming
// the step and the first tensor (weight, activation or gradient) that held a NaN or an
// infinity; the last checkpoint on disk is left as it was.
//
// The run's parts each have a header of their own: its settings (train_options.hpp), its
// record (training_history.hpp), measuring the loss (evaluation.hpp), saving and resuming
// (training_checkpoint.hpp). This one holds steps 2 to 4 as one function,
// loss_and_backward, and the Trainer, which repeats the loop.
//
// Shapes: train/val tokens (n) -> batches (B, T) -> logits (B, T, V) -> a loss per step.
//
// Example (examples/next_token_predictor.cpp is the full program):
//     DataSplit data = split_train_val(tokenizer->encode(text));
//     GPTConfig config = GPTConfig::make(4, 4, 128, 64, tokenizer->vocab_size());
//     Trainer<float> trainer(config, TrainOptions{}, data);
//     while (!trainer.done()) {
//       StepResult r = trainer.train_step();            // r.loss, r.lr, r.grad_norm
//       if (r.step % 250 == 0) trainer.evaluate();      // validation loss, kept in history()
//     }
//     trainer.save_checkpoint("out");                    // generate --model out loads it
#pragma once

#include "adamw.hpp"
#include "checkpoint.hpp"
#include "config.hpp"
#include "data_loader.hpp"
#include "detail/io.hpp"
#include "detail/parallel.hpp"
#include "divergence.hpp"
#include "error.hpp"
#include "evaluation.hpp"
#include "gpt.hpp"
#include "loss.hpp"
#include "parameters.hpp"
#include "random.hpp"
#include "tensor.hpp"
#include "train_options.hpp"
#include "training_checkpoint.hpp"
#include "training_history.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace minigpt {

// How loss_and_backward treats its batch.
struct LossOptions {
  double scale = 1.0;     // the gradient added is scale · d(mean loss)
  Rng* dropout = nullptr; // train with the config's dropout, masks drawn from here (null: none)
  bool masked = false;    // targets equal to ignore_index count for nothing (SFT's prompts)
};

// Steps 2 to 4 of the loop on one batch: forward, the loss, backward. The gradient of the
// batch's mean loss, times options.scale, is ADDED into grads; returns the loss. A non-finite
// loss is returned without a backward (the caller stops: divergence.hpp).
//   Shapes: batch (B, T) -> logits (B, T, V) -> one number; grads laid out like the weights.
template <typename S>
double loss_and_backward(const GPT<S>& model, GPTActivations<S>& a, Parameters<S>& grads, const BatchView& batch,
                         const LossOptions& options = {}) {
  ForwardOptions<S> forward;
  forward.training = true;
  forward.dropout_rng = options.dropout;
  const Tensor<S>& logits = model.forward(a, batch.inputs, batch.B, batch.T, forward);  // (B, T, V)
  a.dlogits.resize(batch.B * batch.T, model.config().vocab_size);
  MatrixRef<S> dlogits(a.dlogits);
  const double loss = static_cast<double>(cross_entropy<S>(logits.matrix(), batch.targets, &dlogits, options.masked));
  if (!std::isfinite(loss)) return loss;
  const S scale = static_cast<S>(options.scale);
  if (scale != S(1)) a.dlogits *= scale;
  model.backward(a, grads, a.dlogits);
  return loss;
}

// The same with the model's own activations and gradients (call model.zero_grad() first).
template <typename S>
double loss_and_backward(GPT<S>& model, const Batch& batch, const LossOptions& options = {}) {
  return loss_and_backward(model, model.activations(), model.gradients(), batch.view(), options);
}

template <typename S = float>
class Trainer {
 public:
  enum class Split { train, val };

  // A new run: weights initialised (GPT-2's scheme) from options.seed. data.val may be empty
  // (then there is no validation loss).
  Trainer(const GPTConfig& config, const TrainOptions& options, const DataSplit& data)
      : options_(options), model_(config) {
    options.validate(config);
    Rng seeder(options.seed);
    Rng init(seeder.next_u64());
    model_.init_weights(init);
    setup(data, seeder);
  }

  // Resumes the run saved in checkpoint folder dir. data must be the same text, tokenized the
  // same way (checked against the fingerprints in trainer_state.json).
  static Trainer resume(const std::string& dir, const DataSplit& data) { return Trainer(dir, data); }

  GPT<S>& model() { return model_; }
  const GPT<S>& model() const { return model_; }
  AdamW<S>& optimizer() { return optimizer_; }
  const TrainOptions& options() const { return options_; }
  const TrainingHistory& history() const { return history_; }
  Index step() const { return step_; }  // optimiser steps done so far
  bool done() const { return step_ >= options_.max_iters; }
  // Go on for longer (e.g. after resuming). The schedule keeps its own decay_steps.
  void set_max_iters(Index n) {
    if (n < 0) throw ArgumentError("max_iters must be >= 0");
    options_.max_iters = n;
  }
  // Tokens (positions) per optimiser step.
  Index tokens_per_step() const { return options_.batch_size * options_.block_size * options_.grad_accum_steps; }
  // How many shards each micro-batch is cut into (see TrainOptions::shards).
  Index shards() const { return static_cast<Index>(acts_.size()); }
  // How many threads share the work (OpenMP's; 1 without it).
  static int threads() { return detail::max_threads(); }

  // One optimiser step: k micro-batches forward and backward, clipping, AdamW.
  StepResult train_step() {
    const Index k = options_.grad_accum_steps, this_step = step_ + 1;
    const double lr = options_.lr(step_);
    model_.zero_grad();
    for (Parameters<S>& g : shard_grads_) g.zero();
    double loss = 0.0;
    for (Index micro = 0; micro < k; ++micro) loss += micro_batch(train_.next(), this_step);
    // All shards' gradients into the model's: g = g_0 + g_1 + ...
    Parameters<S>& grads = model_.gradients();
    for (const Parameters<S>& g : shard_grads_) add_into(grads, g);

    const double norm = grad_norm(grads);
    if (!std::isfinite(norm)) throw diverged_at_gradients(this_step, grads);
    // AdamW, with the gradient clipped to length grad_clip on the way in
    const std::string bad_weight = optimizer_.step(model_.parameters(), grads, lr, clip_scale(norm, options_.grad_clip));
    if (!bad_weight.empty()) throw diverged_at_update(this_step, bad_weight, lr);
    step_ = this_step;
    history_.train_loss.push_back(loss);
    return {step_, loss, norm, lr, tokens_per_step()};
  }

  // ---- evaluation (evaluation.hpp) ----

  // The mean loss over eval_iters batches of one split. The batches are the same every time
  // (drawn from a generator seeded for evaluation), so successive values are comparable, and
  // evaluating never disturbs the training run's generators.
  double estimate_loss(Split which) {
    const DataLoader& loader = which == Split::train ? train_ : val_;
    if (loader.tokens().empty()) return std::numeric_limits<double>::quiet_NaN();
    Rng rng(eval_seed_ + (which == Split::train ? 0 : 1));
    std::vector<Batch> batches;
    for (Index i = 0; i < options_.eval_iters; ++i) batches.push_back(loader.batch_at(loader.draw_starts(rng)));
    double total = 0.0;
    for (double l : batch_losses(model_, acts_, batches)) total += l;  // in order: the same sum on any number of threads
    return total / static_cast<double>(options_.eval_iters);
  }

  // Both estimates, recorded in history() at the current step.
  EvalPoint evaluate() {
    EvalPoint p{step_, estimate_loss(Split::train), estimate_loss(Split::val)};
    history_.evals.push_back(p);
    return p;
  }

  // The loss over a whole split (dataset_loss): slower than estimate_loss, and exact.
  double split_loss(Split which) {
    const DataLoader& loader = which == Split::train ? train_ : val_;
    const std::vector<Batch> batches = consecutive_batches(loader.tokens(), options_.batch_size, options_.block_size);
    return mean_over_positions(batches, batch_losses(model_, acts_, batches));
  }

  // ---- checkpoints (training_checkpoint.hpp) ----

  // Saves a training checkpoint in folder dir (see training_checkpoint.hpp for its files and
  // how the previous checkpoint is kept safe). extra(folder), when given, writes more files
  // into the new folder before it replaces the old one, e.g. tokenizer->save(folder).
  void save_checkpoint(const std::string& dir, const std::function<void(const std::string&)>& extra = {}) const {
    detail::replace_folder_atomically(dir, [&](const std::string& folder) {
      save_model(model_, folder);
      save_optimizer_state(optimizer_, folder + "/optimizer.safetensors");
      detail::write_file_atomic(folder + "/trainer_state.json", trainer_state_to_json(state()).dump(1) + "\n");
      if (extra) extra(folder);
    });
  }

  // Everything of the run besides the model and the optimiser: what trainer_state.json holds.
  TrainerState state() const {
    return {step_,         options_, train_.state(), dropout_rng_.state(), DataFingerprint::of(train_.tokens()),
            DataFingerprint::of(val_.tokens()), history_};
  }

 private:
  // ---- construction ----

  Trainer(const std::string& dir, const DataSplit& data) : model_(load_model<S>(dir)) {
    const std::string path = dir + "/trainer_state.json";
    const TrainerState saved = trainer_state_from_json(detail::read_json_file(path), path);
    options_ = saved.options;
    try {
      options_.validate(model_.config());
    } catch (const ArgumentError& e) {
      throw FileError(path, "options", e.what());
    }
    step_ = saved.step;
    history_ = saved.history;
    Rng seeder(options_.seed);
    (void)seeder.next_u64();  // the initialisation's seed: the weights come from the checkpoint
    setup(data, seeder);
    check_same_data(saved.train, data.train, path, "train");
    check_same_data(saved.val, data.val, path, "val");
    load_optimizer_state(optimizer_, dir + "/optimizer.safetensors", step_);
    if (!train_.set_state(saved.data_rng)) throw FileError(path, "rng.data", "is not a generator state");
    if (!dropout_rng_.set_state(saved.dropout_rng)) throw FileError(path, "rng.dropout", "is not a generator state");
  }

  void setup(const DataSplit& data, Rng& seeder) {
    const GPTConfig& config = model_.config();
    const std::uint64_t data_seed = seeder.next_u64();
    dropout_rng_ = Rng(seeder.next_u64());
    eval_seed_ = seeder.next_u64();
    check_token_ids(data.train, config.vocab_size, "Trainer: the training data");
    check_token_ids(data.val, config.vocab_size, "Trainer: the validation data");
    train_ = DataLoader(data.train, options_.batch_size, options_.block_size, data_seed);
    if (!data.val.empty()) val_ = DataLoader(data.val, options_.batch_size, options_.block_size, data_seed);
    optimizer_ = AdamW<S>(config, options_.adamw);
    if (options_.shards == 0) {
      const bool small = config.parameter_count() <= 20000000;
      options_.shards = small ? std::min<Index>(options_.batch_size, detail::max_threads()) : 1;
    }
    const Index n = std::min(options_.shards, options_.batch_size);
    acts_.assign(static_cast<std::size_t>(n), GPTActivations<S>());
    shard_grads_.assign(static_cast<std::size_t>(n - 1), Parameters<S>(config));  // shard 0 uses the model's own
  }

  // ---- data parallelism: one micro-batch shared among the shards ----

  // Shard s takes sequences B·s/n .. B·(s+1)/n − 1 of the micro-batch and runs forward, loss
  // and backward on its own thread: the weights are shared, the activations and gradients
  // its own, its dropout masks drawn from a generator seeded, shard by shard in order, from
  // the run's dropout generator. Each gradient is scaled so that the shards and micro-batches
  // add up to the gradient of the step's mean loss. Returns the micro-batch's share of it.
  double micro_batch(const Batch& batch, Index this_step) {
    const Index n = shards(), B = batch.B, k = options_.grad_accum_steps;
    const GPTConfig& c = model_.config();
    const bool dropout = c.embd_pdrop > 0 || c.attn_pdrop > 0 || c.resid_pdrop > 0;
    std::vector<Rng> rngs;
    for (Index s = 0; dropout && s < n; ++s) rngs.emplace_back(dropout_rng_.next_u64());
    std::vector<Parameters<S>*> grads{&model_.gradients()};
    for (Parameters<S>& g : shard_grads_) grads.push_back(&g);
    std::vector<double> losses(static_cast<std::size_t>(n));
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
    auto rows = [&](Index s) { return std::make_pair(B * s / n, B * (s + 1) / n); };
    detail::parallel_tasks(n, [&](Index s) {
      const auto si = static_cast<std::size_t>(s);
      const auto [b0, b1] = rows(s);
      // d(step loss) / d(shard loss) = (rows of the shard / rows of the batch) / k
      const LossOptions o{static_cast<double>(b1 - b0) / static_cast<double>(B * k), dropout ? &rngs[si] : nullptr};
      try {
        losses[si] = loss_and_backward(model_, acts_[si], *grads[si], batch.view(b0, b1), o);
      } catch (...) {
        errors[si] = std::current_exception();  // exceptions may not leave an OpenMP thread
      }
    });
    double share = 0.0;
    for (Index s = 0; s < n; ++s) {  // in order: the same sum on any number of threads
      const auto si = static_cast<std::size_t>(s);
      if (errors[si]) std::rethrow_exception(errors[si]);
      if (!std::isfinite(losses[si])) throw diverged_at_loss(this_step, losses[si], model_.parameters(), acts_[si]);
      const auto [b0, b1] = rows(s);
      share += losses[si] * static_cast<double>(b1 - b0) / static_cast<double>(B * k);
    }
    return share;
  }

  // a += b over whole parameter buffers, in chunks shared among the threads.
  static void add_into(Parameters<S>& a, const Parameters<S>& b) {
    const Index chunk = Index(1) << 16, n = a.size();
    detail::for_each_chunk(n, (n + chunk - 1) / chunk, [&](Index c) {
      const Index begin = c * chunk, len = std::min(chunk, n - begin);
      a.flat().segment(begin, len) += b.flat().segment(begin, len);
    });
  }

  TrainOptions options_;
  GPT<S> model_;
  AdamW<S> optimizer_;
  DataLoader train_, val_;
  Rng dropout_rng_;
  std::uint64_t eval_seed_ = 0;
  Index step_ = 0;
  TrainingHistory history_;
  std::vector<GPTActivations<S>> acts_;     // one per shard
  std::vector<Parameters<S>> shard_grads_;  // shards 1 .. n − 1 (shard 0 adds into the model's)
};

}  // namespace minigpt
