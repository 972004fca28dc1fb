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
// Several processes (ranks): given a Communicator (communicator.hpp; MPI's in distributed.hpp)
// of N > 1 ranks, the Trainer trains data-parallel. Every rank draws the same batches from
// the same seeded stream; a micro-batch's S shards (TrainOptions::shards, S >= N) are dealt
// out in order, rank r running shards S·r/N .. S·(r+1)/N − 1 on its threads; the ranks'
// gradients are summed by one allreduce of the whole gradient buffer, and every rank takes
// the same clipping and AdamW step. The losses are summed shard by shard in the same order
// on every rank count, so they and the validation loss are the numbers one process with S
// shards computes; only the gradient's sum over the ranks is grouped differently (float
// addition is not associative), which moves the weights by float rounding (exactly nothing
// for 2 ranks: a + b is b + a). Rank 0 alone writes checkpoints; a checkpoint does not
// depend on N, so a run may resume on another number of ranks. At start-up the ranks check
// that they agree on the config, every option, the data and the weights, and name what differs.
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
#include "communicator.hpp"
#include "config.hpp"
#include "data_loader.hpp"
#include "detail/field_json.hpp"
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
#include <optional>
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
  // (then there is no validation loss). comm: the ranks that train together (null, or one
  // rank: this process alone); every rank makes this call with the same arguments, and rank
  // 0's initial weights are copied to the others.
  Trainer(const GPTConfig& config, const TrainOptions& options, const DataSplit& data, Communicator* comm = nullptr)
      : options_(options), comm_(several(comm)), model_(agreed(config, options, data, comm_)) {
    options.validate(config);
    Rng seeder(options.seed);
    Rng init(seeder.next_u64());
    model_.init_weights(init);
    if (comm_) comm_->broadcast(model_.parameters().data(), sizeof(S) * static_cast<std::size_t>(model_.parameters().size()), 0);
    setup(data, seeder);
  }

  // Resumes the run saved in checkpoint folder dir. data must be the same text, tokenized the
  // same way (checked against the fingerprints in trainer_state.json). With comm, every rank
  // reads dir (a folder they share), and they check that they read the same checkpoint; the
  // number of ranks may differ from the run that saved it.
  static Trainer resume(const std::string& dir, const DataSplit& data, Communicator* comm = nullptr) {
    return Trainer(dir, data, comm);
  }

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
  // How many shards each micro-batch is cut into, over all ranks (see TrainOptions::shards).
  Index shards() const { return total_shards_; }
  // This process's rank and the number of ranks (0 and 1 without a communicator).
  int rank() const { return comm_ ? comm_->rank() : 0; }
  int ranks() const { return comm_ ? comm_->size() : 1; }
  // How many threads share the work of this process (OpenMP's; 1 without it); set_threads(n)
  // changes it for everything that runs after.
  static int threads() { return detail::max_threads(); }
  static void set_threads(int n) {
    if (n < 1) throw ArgumentError("the number of threads must be >= 1, got " + std::to_string(n));
    detail::set_max_threads(n);
  }

  // One optimiser step: k micro-batches forward and backward, clipping, AdamW.
  StepResult train_step() {
    const Index k = options_.grad_accum_steps, this_step = step_ + 1;
    const double lr = options_.lr(step_);
    model_.zero_grad();
    for (Parameters<S>& g : shard_grads_) g.zero();
    double loss = 0.0;
    for (Index micro = 0; micro < k; ++micro) loss += micro_batch(train_.next(), this_step);
    // All shards' gradients into the model's: g = g_0 + g_1 + ..., then over the ranks.
    Parameters<S>& grads = model_.gradients();
    for (const Parameters<S>& g : shard_grads_) add_into(grads, g);
    if (comm_) comm_->allreduce_sum(grads.data(), grads.size());

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
    for (double l : losses_of(batches)) total += l;  // in order: the same sum on any number of threads and ranks
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
    return mean_over_positions(batches, losses_of(batches));
  }

  // ---- checkpoints (training_checkpoint.hpp) ----

  // Saves a training checkpoint in folder dir (see training_checkpoint.hpp for its files and
  // how the previous checkpoint is kept safe). extra(folder), when given, writes more files
  // into the new folder before it replaces the old one, e.g. tokenizer->save(folder).
  // With several ranks every rank calls it: they check that their weights are still the same,
  // rank 0 alone writes (and calls extra), and if it fails every rank throws.
  void save_checkpoint(const std::string& dir, const std::function<void(const std::string&)>& extra = {}) const {
    auto save = [&] {
      detail::replace_folder_atomically(dir, [&](const std::string& folder) {
        save_model(model_, folder);
        save_optimizer_state(optimizer_, folder + "/optimizer.safetensors");
        detail::write_file_atomic(folder + "/trainer_state.json", trainer_state_to_json(state()).dump(1) + "\n");
        if (extra) extra(folder);
      });
    };
    if (!comm_) return save();
    check_same(*comm_, "the weights at step " + std::to_string(step_) + " (fingerprint)",
               std::to_string(fingerprint(model_.parameters())));
    on_every_rank(*comm_, "saving the checkpoint " + dir, [&] {
      if (comm_->rank() == 0) save();
    });
  }

  // Everything of the run besides the model and the optimiser: what trainer_state.json holds.
  TrainerState state() const {
    return {step_,         options_, train_.state(), dropout_rng_.state(), DataFingerprint::of(train_.tokens()),
            DataFingerprint::of(val_.tokens()), history_};
  }

 private:
  // ---- construction ----

  // Resuming. Each part that reads files may fail on one rank alone (a folder that is not
  // shared); after each, the ranks agree (on_every_rank) before the next collective call.
  Trainer(const std::string& dir, const DataSplit& data, Communicator* comm)
      : comm_(several(comm)), model_(load_on_every_rank(dir, comm_)) {
    const std::string path = dir + "/trainer_state.json";
    TrainerState saved;
    everywhere("reading " + path, [&] {
      saved = trainer_state_from_json(detail::read_json_file(path), path);
      options_ = saved.options;
      try {
        options_.validate(model_.config());
      } catch (const ArgumentError& e) {
        throw FileError(path, "options", e.what());
      }
    });
    if (comm_) check_agreement(*comm_, model_.config(), options_, data);
    step_ = saved.step;
    history_ = saved.history;
    Rng seeder(options_.seed);
    (void)seeder.next_u64();  // the initialisation's seed: the weights come from the checkpoint
    setup(data, seeder);
    everywhere("resuming from " + dir, [&] {
      check_same_data(saved.train, data.train, path, "train");
      check_same_data(saved.val, data.val, path, "val");
      load_optimizer_state(optimizer_, dir + "/optimizer.safetensors", step_);
      if (!train_.set_state(saved.data_rng)) throw FileError(path, "rng.data", "is not a generator state");
      if (!dropout_rng_.set_state(saved.dropout_rng)) throw FileError(path, "rng.dropout", "is not a generator state");
    });
    if (comm_) {  // every rank read the same checkpoint (the same bytes), or none goes on
      const std::string what = "the checkpoint read from " + dir + " (fingerprint of ";
      check_same(*comm_, what + "the weights)", std::to_string(fingerprint(model_.parameters())));
      check_same(*comm_, what + "AdamW's moments)",
                 std::to_string(fingerprint(optimizer_.m()) ^ (fingerprint(optimizer_.v()) * 31)));
      check_same(*comm_, what + "the step and the generators)",
                 std::to_string(step_) + " " + train_.state() + " " + dropout_rng_.state());
    }
  }

  // ---- several ranks ----

  // The communicator when it has several ranks; null for one (this process alone: every
  // collective step is skipped, and the run is exactly the single-process one).
  static Communicator* several(Communicator* comm) { return comm != nullptr && comm->size() > 1 ? comm : nullptr; }

  // f() on this process; with several ranks, all of them agree that it went well or all stop.
  template <typename F>
  void everywhere(const std::string& doing, F&& f) {
    if (comm_) return on_every_rank(*comm_, doing, f);
    f();
  }

  static GPT<S> load_on_every_rank(const std::string& dir, Communicator* comm) {
    if (!comm) return load_model<S>(dir);
    std::optional<GPT<S>> model;
    on_every_rank(*comm, "loading the model in " + dir, [&] { model.emplace(load_model<S>(dir)); });
    return std::move(*model);
  }

  // Before anything is built from them: every rank must have the same config, options and
  // data (the error names the first field that differs).
  static const GPTConfig& agreed(const GPTConfig& config, const TrainOptions& options, const DataSplit& data,
                                 Communicator* comm) {
    if (comm) check_agreement(*comm, config, options, data);
    return config;
  }

  static void check_agreement(Communicator& comm, const GPTConfig& config, const TrainOptions& options,
                              const DataSplit& data) {
    check_same(comm, "the scalar type (bytes)", std::to_string(sizeof(S)));
    const nlohmann::json config_fields = detail::fields_to_json(config), option_fields = detail::fields_to_json(options);
    for (const auto& f : config_fields.items())
      check_same(comm, "the model config's '" + f.key() + "'", f.value().dump());
    for (const auto& f : option_fields.items())
      check_same(comm, "the training option '" + f.key() + "'", f.value().dump());
    for (const auto* split : {&data.train, &data.val})
      check_same(comm, split == &data.train ? "the training data" : "the validation data",
                 std::to_string(split->size()) + " tokens, fingerprint " + std::to_string(token_fingerprint(*split)));
  }

  static std::uint64_t fingerprint(const Parameters<S>& p) {
    return bytes_fingerprint(p.data(), sizeof(S) * static_cast<std::size_t>(p.size()));
  }

  // Each batch's loss. With several ranks, rank r measures batches E·r/N .. E·(r+1)/N − 1 and
  // the ranks add up their lists (each loss comes from one rank, zeros from the others, so
  // the sum is that loss exactly): every rank ends with the same E numbers.
  std::vector<double> losses_of(const std::vector<Batch>& batches) {
    if (!comm_) return batch_losses(model_, acts_, batches);
    const Index E = static_cast<Index>(batches.size()), N = comm_->size(), r = comm_->rank();
    const Index b0 = E * r / N, b1 = E * (r + 1) / N;
    const std::vector<Batch> mine(batches.begin() + b0, batches.begin() + b1);
    const std::vector<double> own = batch_losses(model_, acts_, mine);
    std::vector<double> all(static_cast<std::size_t>(E), 0.0);
    std::copy(own.begin(), own.end(), all.begin() + b0);
    comm_->allreduce_sum(all.data(), E);
    return all;
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
    const Index N = ranks();
    if (options_.shards == 0) {  // one shard per thread of each rank (rank 0's thread count), or one per rank
      const bool small = config.parameter_count() <= 20000000;
      std::int64_t threads = detail::max_threads();
      if (comm_) comm_->broadcast(&threads, sizeof threads, 0);
      options_.shards = small ? std::min<Index>(options_.batch_size, N * threads) : N;
    }
    if (options_.batch_size < N)
      throw ArgumentError("training options: batch_size (" + std::to_string(options_.batch_size) +
                          ") must be at least the number of ranks (" + std::to_string(N) +
                          "): each rank trains on whole sequences of every batch");
    // At least one shard per rank (a run resumed on more ranks than it had shards).
    options_.shards = std::max(options_.shards, N);
    total_shards_ = std::min(options_.shards, options_.batch_size);
    first_shard_ = total_shards_ * rank() / N;
    const Index n = total_shards_ * (rank() + 1) / N - first_shard_;  // this rank's shards
    acts_.assign(static_cast<std::size_t>(n), GPTActivations<S>());
    shard_grads_.assign(static_cast<std::size_t>(n - 1), Parameters<S>(config));  // shard 0 uses the model's own
  }

  // ---- data parallelism: one micro-batch shared among the shards ----

  // Shard s of the S shards takes sequences B·s/S .. B·(s+1)/S − 1 of the micro-batch and
  // runs forward, loss and backward on its own thread: the weights are shared, the
  // activations and gradients its own, its dropout masks drawn from a generator seeded, shard
  // by shard in order, from the run's dropout generator. This rank runs shards first_shard_
  // onwards (all of them with one rank). Each gradient is scaled so that the shards and
  // micro-batches add up to the gradient of the step's mean loss. Returns the micro-batch's
  // share of it, summed over all S shards (the ranks swap their shards' losses).
  double micro_batch(const Batch& batch, Index this_step) {
    const Index n_all = total_shards_, n = static_cast<Index>(acts_.size()), B = batch.B, k = options_.grad_accum_steps;
    const GPTConfig& c = model_.config();
    const bool dropout = c.embd_pdrop > 0 || c.attn_pdrop > 0 || c.resid_pdrop > 0;
    std::vector<Rng> rngs;
    for (Index s = 0; dropout && s < n_all; ++s) rngs.emplace_back(dropout_rng_.next_u64());
    std::vector<Parameters<S>*> grads{&model_.gradients()};
    for (Parameters<S>& g : shard_grads_) grads.push_back(&g);
    // Every shard's loss, and last the number of ranks whose shards threw.
    std::vector<double> losses(static_cast<std::size_t>(n_all + 1), 0.0);
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
    auto rows = [&](Index s) { return std::make_pair(B * s / n_all, B * (s + 1) / n_all); };
    detail::parallel_tasks(n, [&](Index j) {
      const auto s = static_cast<std::size_t>(first_shard_ + j), sj = static_cast<std::size_t>(j);
      const auto [b0, b1] = rows(first_shard_ + j);
      // d(step loss) / d(shard loss) = (rows of the shard / rows of the batch) / k
      const LossOptions o{static_cast<double>(b1 - b0) / static_cast<double>(B * k), dropout ? &rngs[s] : nullptr};
      try {
        losses[s] = loss_and_backward(model_, acts_[sj], *grads[sj], batch.view(b0, b1), o);
      } catch (...) {
        errors[sj] = std::current_exception();  // exceptions may not leave an OpenMP thread
      }
    });
    std::exception_ptr error;
    for (const auto& e : errors)
      if (e && !error) error = e;
    if (comm_) {
      losses[static_cast<std::size_t>(n_all)] = error ? 1.0 : 0.0;
      comm_->allreduce_sum(losses.data(), n_all + 1);
      if (error) std::rethrow_exception(error);
      if (losses[static_cast<std::size_t>(n_all)] > 0)
        throw DistributedError("rank " + std::to_string(rank()) + ": another rank failed in its forward or backward pass "
                               "at step " + std::to_string(this_step) + " (its message says why)");
    } else if (error) {
      std::rethrow_exception(error);
    }
    double share = 0.0;
    for (Index s = 0; s < n_all; ++s) {  // in order: the same sum on any number of threads and ranks
      const auto si = static_cast<std::size_t>(s);
      if (!std::isfinite(losses[si])) throw diverged_at_shard(this_step, s, losses[si]);
      const auto [b0, b1] = rows(s);
      share += losses[si] * static_cast<double>(b1 - b0) / static_cast<double>(B * k);
    }
    return share;
  }

  // Shard s's loss is not finite: the rank that ran it names the first non-finite tensor
  // (divergence.hpp), and tells the others.
  TrainingDiverged diverged_at_shard(Index this_step, Index s, double loss) {
    const Index N = ranks(), n_all = total_shards_;
    int owner = 0;  // the rank whose shards include s
    while (n_all * (owner + 1) / N <= s) ++owner;
    if (!comm_) return diverged_at_loss(this_step, loss, model_.parameters(), acts_[static_cast<std::size_t>(s)]);
    std::string tensor, text;
    if (rank() == owner) {
      const TrainingDiverged e =
          diverged_at_loss(this_step, loss, model_.parameters(), acts_[static_cast<std::size_t>(s - first_shard_)]);
      tensor = e.tensor();
      text = e.what();
      text = text.substr(text.find(": ") + 2);  // without "training stopped at step N: "
    }
    broadcast_string(*comm_, tensor, owner);
    broadcast_string(*comm_, text, owner);
    return TrainingDiverged(this_step, tensor, text + " (in rank " + std::to_string(owner) + "'s sequences)");
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
  Communicator* comm_ = nullptr;  // the ranks, when there are several (not owned); else null
  GPT<S> model_;
  AdamW<S> optimizer_;
  DataLoader train_, val_;
  Rng dropout_rng_;
  std::uint64_t eval_seed_ = 0;
  Index step_ = 0;
  TrainingHistory history_;
  Index total_shards_ = 1, first_shard_ = 0;  // shards per micro-batch over all ranks; this rank's first
  std::vector<GPTActivations<S>> acts_;      // one per shard of this rank
  std::vector<Parameters<S>> shard_grads_;   // this rank's shards 1 .. n − 1 (its first adds into the model's)
};

}  // namespace minigpt
