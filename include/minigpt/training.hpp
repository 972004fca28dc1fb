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
// A non-finite loss or gradient stops training with TrainingDiverged, naming the step and the
// first tensor (weight, activation or gradient) that held a NaN or an infinity; the last
// checkpoint on disk is left as it was.
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
#include "config.hpp"
#include "data_loader.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "gpt.hpp"
#include "loss.hpp"
#include "lr_schedule.hpp"
#include "parameters.hpp"
#include "random.hpp"
#include "tensor.hpp"
#include "training_checkpoint.hpp"
#include "checkpoint.hpp"
#include "detail/parallel.hpp"
#include "detail/product.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace minigpt {

// The defaults are nanoGPT's shakespeare_char recipe at its CPU scale ("baby GPT").
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
  // run forward and backward on its own thread by its own copy of the model; their gradients
  // are then added up. 0: one shard per thread for models of up to 20M parameters (whose
  // matrix products are too small to share well), else 1 (the products themselves are
  // shared among the threads). The results depend on the number of shards (sums are split
  // differently), never on the number of threads; a checkpoint keeps the number.
  Index shards = 0;

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

// Training stopped: a NaN or an infinity appeared. step() is the step (1-based) at which it
// was found, tensor() the first tensor that held it.
class TrainingDiverged : public Error {
 public:
  TrainingDiverged(Index step, std::string tensor, const std::string& what)
      : Error("training stopped at step " + std::to_string(step) + ": " + what), step_(step),
        tensor_(std::move(tensor)) {}
  Index step() const { return step_; }
  const std::string& tensor() const { return tensor_; }

 private:
  Index step_;
  std::string tensor_;
};

namespace detail {

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

// The loss of one batch, forward only (no dropout, nothing kept for backward).
template <typename S>
double forward_loss(GPT<S>& model, const Batch& batch) {
  const Tensor<S>& logits = model.forward(batch.inputs.data(), batch.B, batch.T);
  return static_cast<double>(cross_entropy<S>(logits.matrix(), batch.targets.data()));
}

}  // namespace detail

// The mean loss of `model` over a whole token sequence: every position of consecutive windows
// of T tokens (the last partial window left out), B windows per forward pass. Forward only:
// no dropout, nothing kept for backward. The number a final result should quote.
//   Shapes: tokens (n) -> windows (B, T) -> one number.
template <typename S>
double dataset_loss(GPT<S>& model, const std::vector<TokenId>& tokens, Index B, Index T) {
  if (B <= 0 || T <= 0 || T > model.config().n_positions)
    throw ArgumentError("dataset_loss: B must be >= 1 and T in 1.." + std::to_string(model.config().n_positions));
  const std::vector<Batch> batches = detail::consecutive_batches(tokens, B, T);
  std::vector<double> losses;
  for (const Batch& b : batches) losses.push_back(detail::forward_loss(model, b));
  return detail::mean_over_positions(batches, losses);
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
    setup(config, data, seeder);
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

  // One optimiser step: k micro-batches forward and backward, clipping, AdamW.
  StepResult train_step() {
    const Index B = options_.batch_size, T = options_.block_size, k = options_.grad_accum_steps;
    const Index this_step = step_ + 1;
    const double lr = options_.lr(step_);
    const GPTConfig& c = model_.config();
    const bool dropout = c.embd_pdrop > 0 || c.attn_pdrop > 0 || c.resid_pdrop > 0;
    const Index n_shards = static_cast<Index>(shards_.size());

    for (Shard& sh : shards_) model_of(sh).zero_grad();
    double loss = 0.0;
    for (Index micro = 0; micro < k; ++micro) {
      const Batch batch = train_.next();
      // Shard s takes sequences b0 .. b1 − 1 of the batch; its dropout masks come from a
      // generator seeded, shard by shard in order, from the run's dropout generator.
      for (Index s = 0; s < n_shards; ++s) {
        Shard& sh = shards_[static_cast<std::size_t>(s)];
        sh.b0 = B * s / n_shards;
        sh.b1 = B * (s + 1) / n_shards;
        if (dropout) sh.rng = Rng(dropout_rng_.next_u64());
      }
      detail::parallel_tasks(n_shards, [&](Index s) {
        Shard& sh = shards_[static_cast<std::size_t>(s)];
        try {
          run_shard(sh, batch, dropout, k);
        } catch (...) {
          sh.error = std::current_exception();  // exceptions may not leave an OpenMP thread
        }
      });
      for (Shard& sh : shards_) {
        if (sh.error) std::rethrow_exception(std::exchange(sh.error, nullptr));
        if (!std::isfinite(sh.loss)) diverged_at_loss(this_step, sh);
      }
      for (Shard& sh : shards_)  // in order: the same sum on any number of threads
        loss += sh.loss * static_cast<double>(sh.b1 - sh.b0) / static_cast<double>(B * k);
    }
    // All shards' gradients into the model's: g = g_0 + g_1 + ...
    Parameters<S>& grads = model_.gradients();
    for (std::size_t s = 1; s < shards_.size(); ++s)
      add_into(grads, shards_[s].replica->gradients());

    const double norm = grad_norm(grads);
    if (!std::isfinite(norm)) diverged_at_gradients(this_step);
    // AdamW, with the gradient clipped to length grad_clip on the way in
    const std::string bad_weight =
        optimizer_.step(model_.parameters(), grads, lr, clip_scale(norm, options_.grad_clip));
    if (!bad_weight.empty())
      throw TrainingDiverged(this_step, bad_weight,
                             "the AdamW update made weight " + bad_weight + " non-finite (learning rate " +
                                 std::to_string(lr) + " too high?)");
    for (std::size_t s = 1; s < shards_.size(); ++s) copy_into(shards_[s].replica->parameters(), model_.parameters());
    step_ = this_step;
    history_.train_loss.push_back(loss);
    return {step_, loss, norm, lr, B * T * k};
  }

  // How many shards each micro-batch is cut into (see TrainOptions::shards).
  Index shards() const { return static_cast<Index>(shards_.size()); }

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
    for (double l : batch_losses(batches)) total += l;  // in order: the same sum on any number of threads
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
    const std::vector<Batch> batches = detail::consecutive_batches(loader.tokens(), options_.batch_size, options_.block_size);
    return detail::mean_over_positions(batches, batch_losses(batches));
  }

  // Saves a training checkpoint in folder dir (see training_checkpoint.hpp for its files and
  // how the previous checkpoint is kept safe). extra(folder), when given, writes more files
  // into the new folder before it replaces the old one, e.g. tokenizer->save(folder).
  void save_checkpoint(const std::string& dir, const std::function<void(const std::string&)>& extra = {}) const {
    detail::replace_folder_atomically(dir, [&](const std::string& folder) {
      save_model(model_, folder);
      save_optimizer_state(optimizer_, folder + "/optimizer.safetensors");
      detail::write_file_atomic(folder + "/trainer_state.json", state_json().dump(1) + "\n");
      if (extra) extra(folder);
    });
  }

 private:
  // ---- construction ----

  Trainer(const std::string& dir, const DataSplit& data) : model_(load_model<S>(dir)) {
    const std::string path = dir + "/trainer_state.json";
    const nlohmann::json j = detail::read_json_file(path);
    read_state_json(j, path);
    options_.validate(model_.config());
    Rng seeder(options_.seed);
    (void)seeder.next_u64();  // the initialisation's seed: the weights come from the checkpoint
    setup(model_.config(), data, seeder);
    check_fingerprint(j, path, "train", data.train);
    check_fingerprint(j, path, "val", data.val);
    load_optimizer_state(optimizer_, dir + "/optimizer.safetensors", step_);
    const std::string& field_data = j["rng"]["data"].get_ref<const std::string&>();
    const std::string& field_dropout = j["rng"]["dropout"].get_ref<const std::string&>();
    if (!train_.set_state(field_data)) throw FileError(path, "rng.data", "is not a generator state");
    if (!dropout_rng_.set_state(field_dropout)) throw FileError(path, "rng.dropout", "is not a generator state");
  }

  void setup(const GPTConfig& config, const DataSplit& data, Rng& seeder) {
    const std::uint64_t data_seed = seeder.next_u64();
    dropout_rng_ = Rng(seeder.next_u64());
    eval_seed_ = seeder.next_u64();
    check_ids(data.train, config.vocab_size, "training");
    check_ids(data.val, config.vocab_size, "validation");
    train_ = DataLoader(data.train, options_.batch_size, options_.block_size, data_seed);
    if (!data.val.empty()) val_ = DataLoader(data.val, options_.batch_size, options_.block_size, data_seed);
    optimizer_ = AdamW<S>(config, options_.adamw);
    // Shard 0 is the model itself; the others get copies of it.
    if (options_.shards == 0) {
      const bool small = config.parameter_count() <= 20000000;
      options_.shards = small ? std::min<Index>(options_.batch_size, detail::max_threads()) : 1;
    }
    const Index n = std::min(options_.shards, options_.batch_size);
    shards_.clear();
    shards_.resize(static_cast<std::size_t>(n));
    for (Index s = 1; s < n; ++s) shards_[static_cast<std::size_t>(s)].replica = std::make_unique<GPT<S>>(model_);
  }

  static void check_ids(const std::vector<TokenId>& tokens, Index V, const char* split) {
    for (std::size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] < 0 || tokens[i] >= V)
        throw ArgumentError(std::string("Trainer: ") + split + " token " + std::to_string(i) + " is id " +
                            std::to_string(tokens[i]) + ", outside the model's vocabulary 0.." + std::to_string(V - 1));
  }

  // ---- data parallelism ----

  // One shard of a micro-batch: which sequences, on which copy of the model.
  struct Shard {
    std::unique_ptr<GPT<S>> replica;  // null for shard 0, which runs on model_
    Index b0 = 0, b1 = 0;             // sequences b0 .. b1 − 1 of the batch
    Rng rng;                          // its dropout masks
    Matrix<S> dlogits;                // (rows, V)
    double loss = 0;
    std::exception_ptr error;
  };

  GPT<S>& model_of(Shard& sh) { return sh.replica ? *sh.replica : model_; }

  // Forward, loss and backward of one shard, on one thread. Its gradient is scaled so that
  // the shards and micro-batches add up to the gradient of the step's mean loss.
  void run_shard(Shard& sh, const Batch& batch, bool dropout, Index k) {
    GPT<S>& m = model_of(sh);
    const Index T = options_.block_size, Bs = sh.b1 - sh.b0, V = m.config().vocab_size;
    ForwardOptions<S> fwd;
    fwd.training = true;
    fwd.dropout_rng = dropout ? &sh.rng : nullptr;
    const Tensor<S>& logits = m.forward(batch.inputs.data() + sh.b0 * T, Bs, T, fwd);  // (Bs, T, V)
    sh.dlogits.resize(Bs * T, V);
    MatrixRef<S> dref(sh.dlogits);
    sh.loss = static_cast<double>(cross_entropy<S>(logits.matrix(), batch.targets.data() + sh.b0 * T, &dref));
    if (!std::isfinite(sh.loss)) return;
    // d(step loss)/d(shard loss) = (rows of the shard / rows of the batch) / k
    const S scale = static_cast<S>(static_cast<double>(Bs) / static_cast<double>(options_.batch_size * k));
    if (scale != S(1)) sh.dlogits *= scale;
    m.backward(sh.dlogits);
  }

  // a += b and a = b over whole parameter buffers, in chunks shared among the threads.
  static void add_into(Parameters<S>& a, const Parameters<S>& b) {
    const Index chunk = Index(1) << 16, n = a.size();
    detail::for_each_chunk(n, (n + chunk - 1) / chunk, [&](Index c) {
      const Index begin = c * chunk, len = std::min(chunk, n - begin);
      a.flat().segment(begin, len) += b.flat().segment(begin, len);
    });
  }
  static void copy_into(Parameters<S>& a, const Parameters<S>& b) {
    const Index chunk = Index(1) << 16, n = a.size();
    detail::for_each_chunk(n, (n + chunk - 1) / chunk, [&](Index c) {
      const Index begin = c * chunk, len = std::min(chunk, n - begin);
      a.flat().segment(begin, len) = b.flat().segment(begin, len);
    });
  }

  // Each batch's loss, forward only. With several shards, whole batches are shared among the
  // shards' models, one thread each (one meeting of the threads for all of them); with one,
  // each forward pass shares its own products among the threads.
  std::vector<double> batch_losses(const std::vector<Batch>& batches) {
    const auto n = static_cast<Index>(batches.size());
    const auto n_shards = static_cast<Index>(shards_.size());
    std::vector<double> losses(batches.size());
    if (n_shards == 1) {
      for (Index i = 0; i < n; ++i) losses[static_cast<std::size_t>(i)] = detail::forward_loss(model_, batches[static_cast<std::size_t>(i)]);
      return losses;
    }
    detail::parallel_tasks(n_shards, [&](Index s) {
      Shard& sh = shards_[static_cast<std::size_t>(s)];  // this shard's own copy of the model
      try {
        for (Index i = s; i < n; i += n_shards)
          losses[static_cast<std::size_t>(i)] = detail::forward_loss(model_of(sh), batches[static_cast<std::size_t>(i)]);
      } catch (...) {
        sh.error = std::current_exception();  // exceptions may not leave an OpenMP thread
      }
    });
    for (Shard& sh : shards_)
      if (sh.error) std::rethrow_exception(std::exchange(sh.error, nullptr));
    return losses;
  }

  // ---- divergence: find where the NaN or infinity came from ----

  std::string first_non_finite(const Parameters<S>& p, bool reverse) const {
    const auto& table = p.table().entries();
    for (std::size_t i = 0; i < table.size(); ++i) {
      const TensorInfo& e = table[reverse ? table.size() - 1 - i : i];
      if (!Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(p.data() + e.offset, e.size).allFinite()) return e.name;
    }
    return "";
  }

  [[noreturn]] void diverged_at_loss(Index step, Shard& sh) {
    const std::string weight = first_non_finite(model_.parameters(), false);
    const std::string act = model_of(sh).first_non_finite_activation();
    const std::string what = "the loss is " + std::to_string(sh.loss) + "; ";
    if (!weight.empty())
      throw TrainingDiverged(step, weight, what + "the first non-finite tensor is weight " + weight +
                                               (act.empty() ? "" : " (first reached in activation " + act + ")"));
    if (!act.empty()) throw TrainingDiverged(step, act, what + "the first non-finite tensor is activation " + act);
    throw TrainingDiverged(step, "loss", what + "every weight and activation is finite (the logits overflow in the loss)");
  }

  [[noreturn]] void diverged_at_gradients(Index step) {
    // Backward runs from the LM head down to the embeddings: the table in reverse.
    const std::string grad = first_non_finite(model_.gradients(), true);
    throw TrainingDiverged(step, grad.empty() ? "gradient norm" : grad,
                           "the gradient is not finite; the first non-finite gradient (in backward order) is " +
                               (grad.empty() ? std::string("none: their squared sum overflows") : "d " + grad));
  }

  // ---- trainer_state.json ----

  nlohmann::json state_json() const {
    nlohmann::json j;
    j["format"] = training_checkpoint_format();
    j["step"] = step_;
    const TrainOptions& o = options_;
    j["options"] = {{"batch_size", o.batch_size},
                    {"block_size", o.block_size},
                    {"grad_accum_steps", o.grad_accum_steps},
                    {"max_iters", o.max_iters},
                    {"max_lr", o.lr.max_lr},
                    {"min_lr", o.lr.min_lr},
                    {"warmup", o.lr.warmup},
                    {"decay_steps", o.lr.decay_steps},
                    {"beta1", o.adamw.beta1},
                    {"beta2", o.adamw.beta2},
                    {"eps", o.adamw.eps},
                    {"weight_decay", o.adamw.weight_decay},
                    {"grad_clip", o.grad_clip},
                    {"eval_iters", o.eval_iters},
                    {"shards", o.shards},
                    {"seed", o.seed}};
    j["rng"] = {{"data", train_.state()}, {"dropout", dropout_rng_.state()}};
    j["data"] = {{"train", {{"tokens", train_.tokens().size()}, {"fingerprint", token_fingerprint(train_.tokens())}}},
                 {"val", {{"tokens", val_.tokens().size()}, {"fingerprint", token_fingerprint(val_.tokens())}}}};
    nlohmann::json evals = nlohmann::json::array();
    for (const EvalPoint& p : history_.evals) evals.push_back({p.step, p.train_loss, p.val_loss});
    j["history"] = {{"train_loss", history_.train_loss}, {"evals", evals}};
    return j;
  }

  void read_state_json(const nlohmann::json& j, const std::string& path) {
    if (!j.is_object()) throw FileError(path, "", "expected a JSON object");
    auto field = [&](const nlohmann::json& obj, const char* name, const std::string& where) -> const nlohmann::json& {
      auto it = obj.find(name);
      if (it == obj.end()) throw FileError(path, where + name, "missing");
      return *it;
    };
    auto integer = [&](const nlohmann::json& obj, const char* name, const std::string& where) -> Index {
      const nlohmann::json& v = field(obj, name, where);
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
        throw FileError(path, where + name, "must be a non-negative integer, got " + v.dump());
      return static_cast<Index>(v.get<std::int64_t>());
    };
    auto number = [&](const nlohmann::json& obj, const char* name, const std::string& where) -> double {
      const nlohmann::json& v = field(obj, name, where);
      if (!v.is_number()) throw FileError(path, where + name, "must be a number, got " + v.dump());
      return v.get<double>();
    };
    const nlohmann::json& format = field(j, "format", "");
    if (!format.is_string() || format.get<std::string>() != training_checkpoint_format())
      throw FileError(path, "format", std::string("is not '") + training_checkpoint_format() + "'");
    step_ = integer(j, "step", "");
    const nlohmann::json& o = field(j, "options", "");
    if (!o.is_object()) throw FileError(path, "options", "must be an object");
    options_.batch_size = integer(o, "batch_size", "options.");
    options_.block_size = integer(o, "block_size", "options.");
    options_.grad_accum_steps = integer(o, "grad_accum_steps", "options.");
    options_.max_iters = integer(o, "max_iters", "options.");
    options_.lr.max_lr = number(o, "max_lr", "options.");
    options_.lr.min_lr = number(o, "min_lr", "options.");
    options_.lr.warmup = integer(o, "warmup", "options.");
    options_.lr.decay_steps = integer(o, "decay_steps", "options.");
    options_.adamw.beta1 = number(o, "beta1", "options.");
    options_.adamw.beta2 = number(o, "beta2", "options.");
    options_.adamw.eps = number(o, "eps", "options.");
    options_.adamw.weight_decay = number(o, "weight_decay", "options.");
    options_.grad_clip = number(o, "grad_clip", "options.");
    options_.eval_iters = integer(o, "eval_iters", "options.");
    options_.shards = integer(o, "shards", "options.");
    const nlohmann::json& seed = field(o, "seed", "options.");
    if (!seed.is_number_unsigned()) throw FileError(path, "options.seed", "must be a non-negative integer");
    options_.seed = seed.get<std::uint64_t>();
    try {
      options_.validate(model_.config());
    } catch (const ArgumentError& e) {
      throw FileError(path, "options", e.what());
    }
    const nlohmann::json& rng = field(j, "rng", "");
    if (!rng.is_object() || !field(rng, "data", "rng.").is_string() || !field(rng, "dropout", "rng.").is_string())
      throw FileError(path, "rng", "must hold the generator states 'data' and 'dropout' as strings");
    const nlohmann::json& hist = field(j, "history", "");
    const nlohmann::json& losses = field(hist, "train_loss", "history.");
    if (!losses.is_array() || static_cast<Index>(losses.size()) != step_)
      throw FileError(path, "history.train_loss", "must hold one loss per step (" + std::to_string(step_) + ")");
    history_ = {};
    for (const auto& l : losses) {
      if (!l.is_number()) throw FileError(path, "history.train_loss", "must hold numbers");
      history_.train_loss.push_back(l.get<double>());
    }
    const nlohmann::json& evals = field(hist, "evals", "history.");
    if (!evals.is_array()) throw FileError(path, "history.evals", "must be an array");
    for (const auto& e : evals) {
      if (!e.is_array() || e.size() != 3 || !e[0].is_number_integer() || !e[1].is_number() || !e[2].is_number())
        throw FileError(path, "history.evals", "entries must be [step, train loss, val loss]");
      history_.evals.push_back({e[0].get<Index>(), e[1].get<double>(), e[2].get<double>()});
    }
    (void)field(j, "data", "");
  }

  static void check_fingerprint(const nlohmann::json& j, const std::string& path, const char* split,
                                const std::vector<TokenId>& tokens) {
    const std::string where = std::string("data.") + split;
    auto it = j["data"].find(split);
    if (it == j["data"].end() || !it->is_object() || !it->contains("tokens") || !it->contains("fingerprint") ||
        !(*it)["tokens"].is_number_unsigned() || !(*it)["fingerprint"].is_number_unsigned())
      throw FileError(path, where, "missing or malformed (expected tokens and fingerprint)");
    if ((*it)["tokens"].get<std::uint64_t>() != tokens.size() ||
        (*it)["fingerprint"].get<std::uint64_t>() != token_fingerprint(tokens))
      throw FileError(path, where,
                      "the " + std::string(split) + " data given (" + std::to_string(tokens.size()) +
                          " tokens) is not the data this run was trained on (" +
                          std::to_string((*it)["tokens"].get<std::uint64_t>()) +
                          " tokens): resume with the same text and tokenizer");
  }

  TrainOptions options_;
  GPT<S> model_;
  AdamW<S> optimizer_;
  DataLoader train_, val_;
  Rng dropout_rng_;
  std::uint64_t eval_seed_ = 0;
  Index step_ = 0;
  TrainingHistory history_;
  std::vector<Shard> shards_;
};

}  // namespace minigpt
