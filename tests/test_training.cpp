// Training: AdamW against a step computed by hand, the learning-rate schedule, gradient
// clipping, the data loader, gradient accumulation, determinism, bit-exact resuming, the
// divergence report, and a short real run on the bundled corpus.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/progress.hpp>
#include <minigpt/training.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace minigpt;

namespace {

GPTConfig training_config(Index vocab = 11) { return GPTConfig::make(2, 2, 16, 16, vocab); }

TrainOptions small_options() {
  TrainOptions o;
  o.batch_size = 4;
  o.block_size = 8;
  o.max_iters = 6;
  o.lr = {3e-3, 3e-4, 2, 6};
  o.eval_iters = 2;
  return o;
}

// While alive, no file of this process may grow past `bytes`: a write past it fails with
// EFBIG, as a write to a full disk fails with ENOSPC (and SIGXFSZ is ignored meanwhile).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = saved_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

template <typename S>
bool same_bits(const Parameters<S>& a, const Parameters<S>& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

}  // namespace

TEST_CASE("AdamW: one and two steps equal PyTorch's formula computed by hand", "[training][adamw]") {
  GPTConfig c = training_config();
  Parameters<double> p(c), g(c);
  Rng rng(1);
  for (Index i = 0; i < p.size(); ++i) {
    p.data()[i] = rng.normal();
    g.data()[i] = 0.1 * rng.normal();
  }
  const AdamWOptions o{0.9, 0.99, 1e-8, 0.1};
  AdamW<double> opt(c, o);
  std::vector<double> P(p.data(), p.data() + p.size()), M(P.size(), 0.0), V(P.size(), 0.0);
  const auto& table = p.table().entries();
  for (int t = 1; t <= 2; ++t) {
    const double lr = t == 1 ? 1e-2 : 5e-3;
    opt.step(p, g, lr);
    for (const TensorInfo& e : table)
      for (Index k = 0; k < e.size; ++k) {
        const auto i = static_cast<std::size_t>(e.offset + k);
        const double gi = g.data()[i];
        if (e.decay()) P[i] *= 1 - lr * 0.1;
        M[i] = 0.9 * M[i] + 0.1 * gi;
        V[i] = 0.99 * V[i] + 0.01 * gi * gi;
        const double mhat = M[i] / (1 - std::pow(0.9, t)), vhat = V[i] / (1 - std::pow(0.99, t));
        P[i] -= lr * mhat / (std::sqrt(vhat) + 1e-8);
      }
    CHECK(opt.steps() == t);
    double worst = 0;
    for (std::size_t i = 0; i < P.size(); ++i) worst = std::max(worst, std::abs(P[i] - p.data()[i]));
    CHECK(worst < 1e-12);
  }
  // Decay only where TensorInfo::decay(): a bias with zero gradient and zero moments stays.
  Parameters<double> q(c), zero(c);
  q.flat() = 1.0;
  AdamW<double> fresh(c, o);
  fresh.step(q, zero, 0.5);
  CHECK(q.get("h.0.attn.c_attn.bias")(0, 0) == 1.0);
  CHECK(q.get("h.0.ln_1.weight")(0, 0) == 1.0);
  CHECK(q.get("h.0.attn.c_attn.weight")(0, 0) == Approx(1.0 - 0.5 * 0.1));
  CHECK(q.get("wte.weight")(0, 0) == Approx(0.95));
  // The header's worked example: the first step moves a parameter by lr, whatever g is.
  Parameters<double> one(c), half(c);
  one.flat() = 1.0;
  half.flat() = 0.5;
  AdamW<double> ex(c, {0.9, 0.999, 1e-8, 0.0});
  ex.step(one, half, 0.1);
  CHECK(one.data()[0] == Approx(0.9).epsilon(1e-7));  // eps moves it by 2e-9
  // Bad options and mismatched buffers are refused.
  CHECK_THROWS_AS(AdamW<double>(c, {1.0, 0.99, 1e-8, 0.1}), ArgumentError);
  CHECK_THROWS_AS(ex.step(one, half, std::numeric_limits<double>::quiet_NaN()), ArgumentError);
  Parameters<double> other(GPTConfig::make(1, 2, 16, 16, 11));
  CHECK_THROWS_AS(ex.step(other, other, 0.1), ArgumentError);
}

TEST_CASE("AdamW reports the first weight tensor an update made non-finite", "[training][adamw]") {
  GPTConfig c = training_config();
  Parameters<float> p(c), g(c);
  g.flat() = 0.01f;
  AdamW<float> opt(c, {});
  CHECK(opt.step(p, g, 1e-3).empty());
  p.get("h.1.mlp.c_fc.weight")(2, 3) = std::numeric_limits<float>::infinity();
  CHECK(opt.step(p, g, 1e-3) == "h.1.mlp.c_fc.weight");
}

TEST_CASE("learning-rate schedule: linear warm-up, cosine decay, floor", "[training][schedule]") {
  const LearningRateSchedule s{1e-3, 1e-4, 100, 2000};
  CHECK(s(0) == Approx(1e-3 / 101));
  CHECK(s(99) == Approx(1e-3 * 100 / 101));
  CHECK(s(100) == Approx(1e-3));
  CHECK(s(1050) == Approx(5.5e-4));
  CHECK(s(2000) == Approx(1e-4));
  CHECK(s(5000) == Approx(1e-4));
  for (Index i = 101; i < 2000; ++i) CHECK(s(i) <= s(i - 1));  // never rises after the warm-up
  const LearningRateSchedule flat = LearningRateSchedule::constant(3e-4);
  CHECK(flat(0) == 3e-4);
  CHECK(flat(10000) == 3e-4);
  CHECK_THROWS_AS((LearningRateSchedule{1e-3, 2e-3, 0, 10}.validate()), ArgumentError);
  CHECK_THROWS_AS((LearningRateSchedule{1e-3, 1e-4, -1, 10}.validate()), ArgumentError);
}

TEST_CASE("gradient-norm clipping scales the whole gradient to the limit", "[training][clipping]") {
  GPTConfig c = training_config();
  Parameters<double> g(c);
  g.get("wte.weight")(0, 0) = 3.0;
  g.get("ln_f.bias")(0, 1) = 4.0;
  CHECK(grad_norm(g) == Approx(5.0));
  CHECK(clip_grad_norm(g, 10.0) == Approx(5.0));  // below the limit: untouched
  CHECK(g.get("wte.weight")(0, 0) == 3.0);
  CHECK(clip_grad_norm(g, 1.0) == Approx(5.0));  // returns the length before clipping
  CHECK(g.get("wte.weight")(0, 0) == Approx(0.6));
  CHECK(g.get("ln_f.bias")(0, 1) == Approx(0.8));
  CHECK(grad_norm(g) == Approx(1.0));
  g.get("h.0.ln_1.bias")(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(clip_grad_norm(g, 1.0)));
  CHECK(g.get("wte.weight")(0, 0) == Approx(0.6));  // a NaN norm scales nothing
}

TEST_CASE("data loader: seeded windows, targets shifted by one, token files", "[training][data]") {
  std::vector<TokenId> tokens(100);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<TokenId>(i);
  DataLoader a(tokens, 3, 5, 42), b(tokens, 3, 5, 42), c(tokens, 3, 5, 43);
  const Batch x = a.next();
  CHECK(x.B == 3);
  CHECK(x.T == 5);
  for (Index i = 0; i < 15; ++i) {
    const auto k = static_cast<std::size_t>(i);
    CHECK(x.targets[k] == x.inputs[k] + 1);                               // the next token
    if (i % 5 != 0) CHECK(x.inputs[k] == x.inputs[k - 1] + 1);            // a contiguous window
    CHECK(x.inputs[k] >= 0);
    CHECK(x.targets[k] <= 99);
  }
  CHECK(b.next().inputs == x.inputs);  // same seed, same batch
  CHECK(c.next().inputs != x.inputs);
  // The state carries the stream: a copy restored from it draws what the original draws next.
  DataLoader d(tokens, 3, 5, 7);
  d.set_state(a.state());
  CHECK(d.next().inputs == a.next().inputs);
  CHECK_FALSE(d.set_state("not a state"));
  // Every start position is reachable, none past n − T − 1.
  DataLoader e(std::vector<TokenId>(tokens.begin(), tokens.begin() + 7), 1, 5, 1);
  std::map<TokenId, int> seen;
  for (int i = 0; i < 200; ++i) ++seen[e.next().inputs[0]];
  CHECK(seen.size() == 2);
  CHECK(seen.count(0) == 1);
  CHECK(seen.count(1) == 1);
  CHECK_THROWS_AS(DataLoader(std::vector<TokenId>(5), 1, 5, 1), ArgumentError);
  CHECK_THROWS_AS(DataLoader(tokens, 0, 5, 1), ArgumentError);

  const DataSplit split = split_train_val(tokens, 0.9);
  CHECK(split.train.size() == 90);
  CHECK(split.val.front() == 90);

  const std::string dir = test::scratch("token-files");
  save_token_file(dir + "/train.bin", tokens);
  CHECK(load_token_file(dir + "/train.bin") == tokens);
  save_token_file(dir + "/big.bin", {70000, 1}, TokenFileFormat::uint32);
  CHECK(load_token_file(dir + "/big.bin", TokenFileFormat::uint32) == std::vector<TokenId>{70000, 1});
  CHECK_THROWS_AS(save_token_file(dir + "/bad.bin", {70000}), ArgumentError);
  detail::write_file_atomic(dir + "/odd.bin", std::string("\x01\x00\x02", 3));
  CHECK_THROWS_WITH(load_token_file(dir + "/odd.bin"), Catch::Contains("odd.bin") && Catch::Contains("truncated"));
  CHECK_THROWS_WITH(load_token_file(dir + "/train.bin", TokenFileFormat::uint16, 50),
                    Catch::Contains("token 50") && Catch::Contains("outside the vocabulary"));
  CHECK_THROWS_AS(load_token_file(dir + "/missing.bin"), FileError);
}

TEST_CASE("gradient accumulation: 2 micro-batches of B/2 make the step of one batch of B", "[training]") {
  const GPTConfig c = training_config();
  const DataSplit data = split_train_val(test::learnable_tokens(3000, 11, 5));
  TrainOptions whole = small_options();
  whole.batch_size = 4;
  TrainOptions halves = whole;
  halves.batch_size = 2;
  halves.grad_accum_steps = 2;
  Trainer<double> a(c, whole, data), b(c, halves, data);
  CHECK(a.tokens_per_step() == b.tokens_per_step());
  for (int i = 0; i < 4; ++i) {
    const StepResult ra = a.train_step(), rb = b.train_step();
    CHECK(ra.loss == Approx(rb.loss).epsilon(1e-12));
    CHECK(ra.grad_norm == Approx(rb.grad_norm).epsilon(1e-10));
  }
  double worst = 0;
  for (Index i = 0; i < a.model().parameter_count(); ++i)
    worst = std::max(worst, std::abs(a.model().parameters().data()[i] - b.model().parameters().data()[i]));
  CHECK(worst < 1e-10);
}

TEST_CASE("the same seed gives the same run, loss for loss, and another seed another run", "[training]") {
  GPTConfig c = training_config();
  c.resid_pdrop = 0.1;  // dropout masks follow the seed too
  const DataSplit data = split_train_val(test::learnable_tokens(3000, 11, 6));
  TrainOptions o = small_options();
  Trainer<float> a(c, o, data), b(c, o, data);
  o.seed = 1338;
  Trainer<float> other(c, o, data);
  bool differs = false;
  while (!a.done()) {
    const StepResult ra = a.train_step(), rb = b.train_step(), ro = other.train_step();
    CHECK(ra.loss == rb.loss);
    CHECK(ra.grad_norm == rb.grad_norm);
    differs |= ra.loss != ro.loss;
  }
  CHECK(differs);
  CHECK(same_bits(a.model().parameters(), b.model().parameters()));
  const EvalPoint ea = a.evaluate(), eb = b.evaluate();
  CHECK(ea.val_loss == eb.val_loss);
  CHECK(a.evaluate().val_loss == ea.val_loss);  // evaluation draws the same batches every time
}

TEST_CASE("resuming from a checkpoint gives bit for bit the uninterrupted run", "[training][checkpoint]") {
  GPTConfig c = training_config();
  c.embd_pdrop = 0.1;
  c.attn_pdrop = 0.1;
  c.resid_pdrop = 0.1;
  const DataSplit data = split_train_val(test::learnable_tokens(3000, 11, 7));
  TrainOptions o = small_options();
  o.max_iters = 8;
  o.grad_accum_steps = 2;
  const std::string dir = test::scratch("resume") + "/ckpt";

  Trainer<float> straight(c, o, data);
  Trainer<float> first(c, o, data);
  for (int i = 0; i < 3; ++i) {
    straight.train_step();
    first.train_step();
  }
  straight.evaluate();
  first.evaluate();
  first.save_checkpoint(dir);
  Trainer<float> resumed = Trainer<float>::resume(dir, data);
  CHECK(resumed.step() == 3);
  CHECK(resumed.history().train_loss == first.history().train_loss);
  CHECK(resumed.history().evals.size() == 1);
  CHECK(same_bits(resumed.model().parameters(), straight.model().parameters()));
  CHECK(same_bits(resumed.optimizer().m(), straight.optimizer().m()));
  CHECK(same_bits(resumed.optimizer().v(), straight.optimizer().v()));
  while (!straight.done()) {
    const StepResult a = straight.train_step(), b = resumed.train_step();
    CHECK(a.step == b.step);
    CHECK(a.loss == b.loss);
    CHECK(a.lr == b.lr);
  }
  CHECK(resumed.done());
  CHECK(same_bits(resumed.model().parameters(), straight.model().parameters()));
  CHECK(resumed.evaluate().val_loss == straight.evaluate().val_loss);

  // Resuming with other data is refused with a clear error.
  DataSplit other = data;
  other.train[10] = (other.train[10] + 1) % 11;
  CHECK_THROWS_WITH(Trainer<float>::resume(dir, other),
                    Catch::Contains("trainer_state.json") && Catch::Contains("data.train"));
}

TEST_CASE("a training checkpoint is a Hugging Face model folder plus the optimiser state", "[training][checkpoint]") {
  const GPTConfig c = training_config();
  const DataSplit data = split_train_val(test::learnable_tokens(3000, 11, 8));
  Trainer<float> t(c, small_options(), data);
  t.train_step();
  t.train_step();
  const std::string dir = test::scratch("ckpt-layout") + "/run";
  t.save_checkpoint(dir, [](const std::string& folder) { detail::write_file_atomic(folder + "/vocab.txt", "abc\n"); });
  for (const char* f : {"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "vocab.txt"})
    CHECK(detail::file_exists(dir + "/" + f));
  // The model loads as any model does, bit for bit.
  GPT<float> loaded = load_model<float>(dir);
  CHECK(same_bits(loaded.parameters(), t.model().parameters()));
  // The moments are named after the table, with its shapes.
  SafetensorsReader opt(dir + "/optimizer.safetensors");
  CHECK(opt.metadata().at("step") == "2");
  const TensorInfo& wte = *t.model().parameters().table().find("wte.weight");
  CHECK(opt.find("m.wte.weight")->shape == wte.shape);
  CHECK(opt.find("v.h.1.mlp.c_proj.bias") != nullptr);
  CHECK(opt.entries().size() == 2 * t.model().parameters().table().entries().size());
  // Saving again replaces the folder whole; nothing is left beside it.
  t.train_step();
  t.save_checkpoint(dir);
  CHECK(Trainer<float>::resume(dir, data).step() == 3);
  CHECK_FALSE(detail::file_exists(dir + "/vocab.txt"));
  CHECK_FALSE(detail::file_exists(dir + ".saving." + std::to_string(::getpid())));
  // A folder that is not a checkpoint is never replaced.
  const std::string mine = test::scratch("ckpt-not-mine");
  detail::write_file_atomic(mine + "/notes.txt", "keep me");
  CHECK_THROWS_WITH(t.save_checkpoint(mine), Catch::Contains("not a training checkpoint"));
  CHECK(detail::read_file(mine + "/notes.txt") == "keep me");
}

TEST_CASE("a bad optimizer state or trainer state is a clear error naming the file and field",
          "[training][checkpoint][hardening]") {
  const GPTConfig c = training_config();
  const DataSplit data = split_train_val(test::learnable_tokens(3000, 11, 9));
  Trainer<float> t(c, small_options(), data);
  t.train_step();
  const std::string root = test::scratch("ckpt-bad");
  const std::string good = root + "/good";
  t.save_checkpoint(good);
  const std::string opt_bytes = detail::read_file(good + "/optimizer.safetensors");
  const std::string state = detail::read_file(good + "/trainer_state.json");

  auto variant = [&](const std::string& name, const std::string& file, const std::string& bytes) {
    const std::string dir = root + "/" + name;
    std::string cmd = "cp -r '" + good + "' '" + dir + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    detail::write_file_atomic(dir + "/" + file, bytes);
    return dir;
  };
  // Truncated: the header promises more data than there is.
  CHECK_THROWS_WITH(Trainer<float>::resume(variant("truncated", "optimizer.safetensors",
                                                   opt_bytes.substr(0, opt_bytes.size() - 100)), data),
                    Catch::Contains("optimizer.safetensors"));
  CHECK_THROWS_WITH(Trainer<float>::resume(variant("short", "optimizer.safetensors", opt_bytes.substr(0, 5)), data),
                    Catch::Contains("optimizer.safetensors") && Catch::Contains("truncated"));
  // A lying file: right layout, wrong model (a moment missing) or wrong step.
  {
    GPTConfig smaller = c;
    smaller.n_layer = 1;
    AdamW<float> o1(smaller, {});
    o1.set_steps(1);
    const std::string dir = variant("other-model", "trainer_state.json", state);
    save_optimizer_state(o1, dir + "/optimizer.safetensors");
    CHECK_THROWS_WITH(Trainer<float>::resume(dir, data),
                      Catch::Contains("optimizer.safetensors") && Catch::Contains("h.1.") && Catch::Contains("missing"));
  }
  {
    AdamW<float> o2(c, {});
    o2.set_steps(7);
    const std::string dir = variant("other-step", "trainer_state.json", state);
    save_optimizer_state(o2, dir + "/optimizer.safetensors");
    CHECK_THROWS_WITH(Trainer<float>::resume(dir, data),
                      Catch::Contains("__metadata__.step") && Catch::Contains("different saves"));
  }
  {
    AdamW<float> o3(c, {});
    o3.set_steps(1);
    o3.v().data()[5] = -1.0f;
    const std::string dir = variant("negative-v", "trainer_state.json", state);
    save_optimizer_state(o3, dir + "/optimizer.safetensors");
    CHECK_THROWS_WITH(Trainer<float>::resume(dir, data), Catch::Contains("negative second moment"));
    o3.v().data()[5] = std::numeric_limits<float>::quiet_NaN();
    save_optimizer_state(o3, dir + "/optimizer.safetensors");
    CHECK_THROWS_WITH(Trainer<float>::resume(dir, data), Catch::Contains("non-finite"));
  }
  // The trainer state: malformed, missing fields, wrong types.
  CHECK_THROWS_WITH(Trainer<float>::resume(variant("json", "trainer_state.json", "{\"step\": "), data),
                    Catch::Contains("trainer_state.json") && Catch::Contains("malformed JSON"));
  std::string no_rng = state;
  no_rng.replace(no_rng.find("\"rng\""), 5, "\"gnr\"");
  CHECK_THROWS_WITH(Trainer<float>::resume(variant("no-rng", "trainer_state.json", no_rng), data),
                    Catch::Contains("rng") && Catch::Contains("missing"));
  std::string bad_step = state;
  bad_step.replace(bad_step.find("\"step\": 1"), 9, "\"step\": 2");
  CHECK_THROWS_WITH(Trainer<float>::resume(variant("bad-step", "trainer_state.json", bad_step), data),
                    Catch::Contains("history.train_loss"));
  CHECK_THROWS_WITH(Trainer<float>::resume(root + "/nowhere", data), Catch::Contains("nowhere"));
}

TEST_CASE("a full disk or a read-only folder while saving leaves the previous checkpoint intact",
          "[training][checkpoint][hardening]") {
  const GPTConfig c = training_config();
  const DataSplit data = split_train_val(test::learnable_tokens(3000, 11, 10));
  Trainer<float> t(c, small_options(), data);
  t.train_step();
  const std::string root = test::scratch("ckpt-disk");
  const std::string dir = root + "/run";
  t.save_checkpoint(dir);
  const std::string before = detail::read_file(dir + "/model.safetensors");
  t.train_step();

  // A full disk: every file may grow to 4 KB only (RLIMIT_FSIZE makes write() fail with EFBIG,
  // as ENOSPC would), so the new model file cannot be written.
  {
    FileSizeLimit limit(4096);
    CHECK_THROWS_WITH(t.save_checkpoint(dir), Catch::Contains("previous"));
  }
  CHECK(detail::read_file(dir + "/model.safetensors") == before);
  CHECK(Trainer<float>::resume(dir, data).step() == 1);

  // A read-only parent folder: the new folder cannot even be created.
  if (::geteuid() != 0) {  // root writes anywhere; the full-disk case above covers it
    REQUIRE(::chmod(root.c_str(), 0555) == 0);
    CHECK_THROWS_WITH(t.save_checkpoint(dir), Catch::Contains("untouched"));
    REQUIRE(::chmod(root.c_str(), 0755) == 0);
    CHECK(Trainer<float>::resume(dir, data).step() == 1);
  }
  t.save_checkpoint(dir);  // with room again, the save goes through
  CHECK(Trainer<float>::resume(dir, data).step() == 2);
}

TEST_CASE("a NaN stops training, naming the step and the first tensor, and the last checkpoint stays",
          "[training][divergence]") {
  const GPTConfig c = training_config();
  const DataSplit data = split_train_val(test::learnable_tokens(3000, 11, 11));
  Trainer<float> t(c, small_options(), data);
  t.train_step();
  t.train_step();
  const std::string dir = test::scratch("diverge") + "/run";
  t.save_checkpoint(dir);
  // A weight of block 1's feed-forward becomes NaN (as after a bad update).
  t.model().parameters().get("h.1.mlp.c_fc.weight")(3, 5) = std::numeric_limits<float>::quiet_NaN();
  try {
    t.train_step();
    FAIL("train_step should have thrown");
  } catch (const TrainingDiverged& e) {
    CHECK(e.step() == 3);
    CHECK(e.tensor() == "h.1.mlp.c_fc.weight");
    CHECK_THAT(e.what(), Catch::Contains("step 3") && Catch::Contains("h.1.mlp.c_fc.weight") &&
                             Catch::Contains("h.1.mlp.c_fc (x · W_fc + b_fc)"));
  }
  CHECK(t.step() == 2);  // the step did not happen
  Trainer<float> back = Trainer<float>::resume(dir, data);
  CHECK(back.step() == 2);
  CHECK(back.model().parameters().flat().allFinite());

  // An overflowing learning rate: the update itself makes weights infinite.
  TrainOptions wild = small_options();
  wild.lr = LearningRateSchedule::constant(1e38);
  wild.grad_clip = 0;
  Trainer<float> w(c, wild, data);
  Index stopped_at = 0;
  std::string tensor;
  for (int i = 0; i < 5 && stopped_at == 0; ++i) {
    try {
      w.train_step();
    } catch (const TrainingDiverged& e) {
      stopped_at = e.step();
      tensor = e.tensor();
      CHECK_THAT(e.what(), Catch::Contains("step " + std::to_string(e.step())) && Catch::Contains(e.tensor()));
    }
  }
  CHECK(stopped_at >= 1);
  CHECK(stopped_at == w.step() + 1);
  CHECK(w.model().parameters().table().find(tensor) != nullptr);  // a weight, named as in the table
}

TEST_CASE("a short real run on the bundled corpus: the loss falls well below log V", "[training][slow]") {
  // Character level, one id per distinct byte (the library's CharTokenizer does the same).
  const std::string text = detail::read_file(test::data("tinyshakespeare.txt")).substr(0, 200000);
  std::vector<int> id_of(256, -1);
  std::vector<unsigned char> chars(text.begin(), text.end());
  std::sort(chars.begin(), chars.end());
  chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
  for (std::size_t i = 0; i < chars.size(); ++i) id_of[chars[i]] = static_cast<int>(i);
  std::vector<TokenId> ids;
  for (unsigned char ch : text) ids.push_back(id_of[ch]);
  const Index V = static_cast<Index>(chars.size());

  const GPTConfig c = GPTConfig::make(2, 2, 32, 32, V);
  TrainOptions o;
  o.batch_size = 8;
  o.block_size = 32;
  o.max_iters = 150;
  o.lr = {1e-2, 1e-3, 10, 150};
  o.eval_iters = 4;
  Trainer<float> t(c, o, split_train_val(ids));
  const double start = t.evaluate().val_loss;
  CHECK(start == Approx(std::log(static_cast<double>(V))).epsilon(0.05));  // a random model guesses uniformly
  while (!t.done()) t.train_step();
  const double end = t.evaluate().val_loss;
  INFO("val loss " << start << " -> " << end << ", log V = " << std::log(static_cast<double>(V)));
  CHECK(end < 0.7 * std::log(static_cast<double>(V)));
  CHECK(t.history().train_loss.size() == 150);
}

TEST_CASE("progress bar: a plain line every few steps, with the loss and tokens/s only when given", "[training][progress]") {
  std::ostringstream train, ask, ppo;
  ProgressBar a(train, 4, false, 2);
  for (Index s = 1; s <= 4; ++s) a.update(s, 2.0 / double(s), 100);
  const std::string t = train.str();
  CHECK(std::count(t.begin(), t.end(), '\n') == 2);  // steps 2 and 4, not 1 and 3
  CHECK_THAT(t, Catch::Contains("step 2/4 [############............]  loss 1.0000  ") && Catch::Contains(" tok/s  "));
  CHECK_THAT(t, Catch::Contains("step 4/4 [########################]  loss 0.5000"));
  ProgressBar b(ask, 3, false, 1);
  b.update(3);  // questions answered: no loss, no tokens
  CHECK_THAT(ask.str(), Catch::StartsWith("step 3/3 [########################]  0:00 left"));
  ProgressBar c(ppo, 10, false, 10, "mean score");
  c.update(10, -0.25, 0);
  CHECK_THAT(ppo.str(), Catch::Contains("]  mean score -0.2500  0:00 left"));
}
