// Data-parallel training on the ranks mpirun started (ctest runs this on 2 and on 3 ranks).
// Every rank also trains the same run alone, as one process with the same shards, and
// compares: the losses, the gradient's length, the validation loss and the final weights.
//
// What must be equal, and why:
//   - evaluation, and the first step's loss, on any number of ranks: the same weights and the
//     same shards give each batch (or shard) the same loss, and the per-batch losses are
//     summed in the same order everywhere;
//   - every later loss and the weights, on 2 ranks: the gradient is g_0 + g_1 on one process
//     and g_1 + g_0 or g_0 + g_1 over two, and float addition is commutative;
//   - on 3 ranks, to float rounding only: one process adds (g_0 + g_1) + g_2, while the
//     allreduce groups the three as Open MPI chooses (by message size; a ring groups each
//     piece differently), and float addition is not associative. The tolerance: regrouping
//     moves a gradient element by at most ~2 · 2^-24 · Σ|g_r|; AdamW's update m/(√v + ε) does
//     not depend on the gradient's scale, so it moves by a similar relative amount, and it is
//     at most ~lr in size. 1e-4 on the weights after 8 steps of lr 3e-3 leaves room for a
//     relative error of 0.4% per update (a cancellation in Σ g_r of 10^4), while a missing
//     or wrong exchange moves weights by ~lr per step (>= 1e-3 after 8). In double the same
//     run agrees to 1e-12, which shows that the differences are rounding and nothing else.
//     (Open MPI 4.1 on one machine adds small buffers in rank order, so 3 ranks came out
//     bit for bit equal too; MPI does not promise it, so the test does not ask for it.)
#include "mpi_common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/training.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

using namespace minigpt;
using test::world;

namespace {

GPTConfig tiny(Index vocab = 11) { return GPTConfig::make(2, 2, 16, 16, vocab); }

TrainOptions tiny_options(Index shards) {
  TrainOptions o;
  o.batch_size = 6;
  o.block_size = 8;
  o.max_iters = 8;
  o.grad_accum_steps = 2;
  o.lr = {3e-3, 3e-4, 2, 8};
  o.eval_iters = 5;  // not a multiple of 2 or 3: some ranks measure more batches than others
  o.shards = shards;
  return o;
}

template <typename S>
bool same_bits(const Parameters<S>& a, const Parameters<S>& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

template <typename S>
double max_difference(const Parameters<S>& a, const Parameters<S>& b) {
  double worst = 0;
  for (Index i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(double(a.data()[i]) - double(b.data()[i])));
  return worst;
}

// How far apart two runs went: the worst relative difference of their losses.
struct Apart {
  double loss = 0, norm = 0;
  void add(const StepResult& a, const StepResult& b) {
    loss = std::max(loss, std::abs(a.loss - b.loss) / std::abs(a.loss));
    norm = std::max(norm, std::abs(a.grad_norm - b.grad_norm) / std::abs(a.grad_norm));
  }
};

// Every rank holds the same weights (or check_same throws on all of them).
template <typename S>
void check_ranks_agree(const Trainer<S>& t) {
  const auto& p = t.model().parameters();
  CHECK_NOTHROW(check_same(world(), "the weights",
                           std::to_string(bytes_fingerprint(p.data(), sizeof(S) * std::size_t(p.size())))));
}

// Trains `alone` (one process) and `together` (the ranks) side by side to the end.
template <typename S>
Apart train_side_by_side(Trainer<S>& alone, Trainer<S>& together, bool exact) {
  Apart apart;
  while (!alone.done()) {
    const StepResult a = alone.train_step(), b = together.train_step();
    CHECK(a.step == b.step);
    CHECK(a.lr == b.lr);
    if (exact) {
      CHECK(a.loss == b.loss);
      CHECK(a.grad_norm == b.grad_norm);
    }
    apart.add(a, b);
  }
  CHECK(together.done());
  return apart;
}

}  // namespace

TEST_CASE("N ranks train as one process with the same shards does", "[mpi]") {
  const int N = world().size();
  const bool exact = N <= 2;
  GPTConfig c = tiny();
  c.resid_pdrop = 0.1;  // dropout on: each shard's masks come from its own generator, on any rank
  const DataSplit data = split_train_val(test::learnable_tokens(4000, 11, 5));
  const TrainOptions o = tiny_options(std::max(2, N));
  Trainer<float> alone(c, o, data);
  Trainer<float> together(c, o, data, &world());
  CHECK(together.ranks() == N);
  CHECK(together.rank() == world().rank());
  CHECK(together.shards() == alone.shards());
  CHECK(together.tokens_per_step() == alone.tokens_per_step());  // the global batch
  REQUIRE(same_bits(together.model().parameters(), alone.model().parameters()));

  // Evaluation before training: the same numbers on any number of ranks, exactly.
  const EvalPoint e1 = alone.evaluate(), eN = together.evaluate();
  CHECK(e1.train_loss == eN.train_loss);
  CHECK(e1.val_loss == eN.val_loss);
  CHECK(alone.split_loss(Trainer<float>::Split::val) == together.split_loss(Trainer<float>::Split::val));

  // The first step's loss is computed from the same weights: equal on any number of ranks.
  const StepResult a1 = alone.train_step(), b1 = together.train_step();
  CHECK(a1.loss == b1.loss);
  const Apart apart = train_side_by_side(alone, together, exact);
  const double weights = max_difference(alone.model().parameters(), together.model().parameters());
  INFO(N << " ranks: worst relative loss difference " << apart.loss << ", gradient length " << apart.norm
         << ", worst weight difference " << weights);
  if (exact) {
    CHECK(same_bits(together.model().parameters(), alone.model().parameters()));
    CHECK(same_bits(together.optimizer().v(), alone.optimizer().v()));
    CHECK(together.evaluate().val_loss == alone.evaluate().val_loss);
  } else {
    // Rounding of one reordered sum: see the header. A missing or wrong exchange moves the
    // weights by the order of lr = 3e-3 every step, and a wrongly scaled gradient shows in
    // its length; rounding stays orders of magnitude below both.
    CHECK(apart.loss < 1e-5);
    CHECK(apart.norm < 1e-5);
    CHECK(weights < 1e-4);
    CHECK(together.evaluate().val_loss == Approx(alone.evaluate().val_loss).epsilon(1e-5));
  }
  check_ranks_agree(together);
  if (world().rank() == 0) std::printf("float, %d ranks: losses apart by %.2e (relative), weights by %.2e\n", N, apart.loss, weights);
}

TEST_CASE("in double the ranks agree with one process to rounding", "[mpi]") {
  const int N = world().size();
  const DataSplit data = split_train_val(test::learnable_tokens(4000, 11, 6));
  const TrainOptions o = tiny_options(std::max(2, N));
  Trainer<double> alone(tiny(), o, data), together(tiny(), o, data, &world());
  const Apart apart = train_side_by_side(alone, together, N <= 2);
  const double weights = max_difference(alone.model().parameters(), together.model().parameters());
  INFO(N << " ranks, double: losses apart by " << apart.loss << ", weights by " << weights);
  CHECK(apart.loss < 1e-12);
  CHECK(weights < 1e-12);
  check_ranks_agree(together);
}

TEST_CASE("a checkpoint resumes on another number of ranks and continues the same run", "[mpi][checkpoint]") {
  const int N = world().size();
  const DataSplit data = split_train_val(test::learnable_tokens(4000, 11, 7));
  const TrainOptions o = tiny_options(2);  // 2 shards: on 3 ranks they become 3
  const std::string root = test::shared_scratch("mpi-resume");

  // 1. Saved by the N ranks at step 3, resumed by one process: each rank alone reads it.
  Trainer<float> together(tiny(), o, data, &world());
  for (int i = 0; i < 3; ++i) together.train_step();
  together.save_checkpoint(root + "/by-ranks");
  Trainer<float> alone = Trainer<float>::resume(root + "/by-ranks", data);
  CHECK(alone.step() == 3);
  CHECK(alone.ranks() == 1);
  CHECK(alone.shards() == together.shards());
  CHECK(same_bits(alone.model().parameters(), together.model().parameters()));
  CHECK(same_bits(alone.optimizer().m(), together.optimizer().m()));
  CHECK(alone.history().train_loss == together.history().train_loss);
  const Apart apart1 = train_side_by_side(alone, together, N <= 2);

  // 2. Saved by one process (rank 0) at step 3, resumed by the N ranks.
  Trainer<float> solo(tiny(), o, data);
  for (int i = 0; i < 3; ++i) solo.train_step();
  if (world().rank() == 0) solo.save_checkpoint(root + "/by-one");
  world().barrier();
  Trainer<float> joined = Trainer<float>::resume(root + "/by-one", data, &world());
  CHECK(joined.step() == 3);
  CHECK(joined.shards() == std::max<Index>(2, N));  // at least one shard per rank
  CHECK(same_bits(joined.model().parameters(), solo.model().parameters()));
  const Apart apart2 = train_side_by_side(solo, joined, N <= 2);
  INFO(N << " ranks: resumed runs apart by " << apart1.loss << " and " << apart2.loss);
  CHECK(apart1.loss < 1e-5);
  CHECK(apart2.loss < 1e-5);
  check_ranks_agree(joined);
}

TEST_CASE("ranks that disagree on the config, an option, the data or the checkpoint refuse to start, naming it",
          "[mpi][mismatch]") {
  const int N = world().size(), r = world().rank();
  const DataSplit data = split_train_val(test::learnable_tokens(4000, 11, 8));
  const bool odd = r == N - 1 && N > 1;  // the last rank is the odd one out
  auto refused = [&](const std::function<void()>& start, const std::string& named) {
    INFO("expected: " << named);
    try {
      start();
      CHECK(N == 1);  // one rank cannot disagree with itself
    } catch (const Error& e) {
      INFO(e.what());
      CHECK_THAT(e.what(), Catch::Contains(named));
      if (!odd) CHECK_THAT(e.what(), Catch::Contains("rank " + std::to_string(N - 1)));  // who differs
    }
  };
  TrainOptions o = tiny_options(N);
  TrainOptions seed = o;
  seed.seed = odd ? 7 : 1337;
  refused([&] { Trainer<float> t(tiny(), seed, data, &world()); }, "the training option 'seed': rank 0 has 1337");
  TrainOptions batch = o;
  batch.batch_size = odd ? 9 : 6;
  refused([&] { Trainer<float> t(tiny(), batch, data, &world()); }, "'batch_size'");
  GPTConfig layers = tiny();
  layers.n_layer = odd ? 3 : 2;
  refused([&] { Trainer<float> t(layers, o, data, &world()); }, "the model config's 'n_layer'");
  DataSplit other = data;
  if (odd) other.train[100] = (other.train[100] + 1) % 11;
  refused([&] { Trainer<float> t(tiny(), o, other, &world()); }, "the training data");

  // Resuming: each rank must read the same checkpoint. Two checkpoints of the same run, at
  // steps 1 and 2; the odd rank reads the other one.
  const std::string root = test::shared_scratch("mpi-mismatch");
  if (r == 0) {
    Trainer<float> t(tiny(), o, data);
    t.train_step();
    t.save_checkpoint(root + "/step1");
    t.train_step();
    t.save_checkpoint(root + "/step2");
  }
  world().barrier();
  refused([&] { Trainer<float>::resume(root + (odd ? "/step2" : "/step1"), data, &world()); }, "fingerprint");
  // A rank that cannot read its folder stops them all, with its message.
  refused([&] { Trainer<float>::resume(root + (odd ? "/nowhere" : "/step1"), data, &world()); }, "nowhere");
  // And with everything the same, they start.
  CHECK_NOTHROW(Trainer<float>::resume(root + "/step2", data, &world()));
}

TEST_CASE("a save that fails on rank 0 stops every rank, and the checkpoint before it stays", "[mpi][checkpoint]") {
  const DataSplit data = split_train_val(test::learnable_tokens(4000, 11, 9));
  const std::string root = test::shared_scratch("mpi-save");
  Trainer<float> t(tiny(), tiny_options(world().size()), data, &world());
  t.train_step();
  t.save_checkpoint(root + "/run");
  if (world().rank() == 0) {
    std::filesystem::create_directories(root + "/mine");
    detail::write_file_atomic(root + "/mine/notes.txt", "not a checkpoint");
  }
  world().barrier();
  t.train_step();
  try {
    t.save_checkpoint(root + "/mine");  // refused: a folder that is not a training checkpoint
    FAIL("save_checkpoint should have thrown");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("not a training checkpoint"));
    if (world().rank() != 0) CHECK_THAT(e.what(), Catch::Contains("rank 0 failed while saving"));
  }
  CHECK(Trainer<float>::resume(root + "/run", data).step() == 1);
  t.train_step();  // the ranks are still in step with each other
  check_ranks_agree(t);
}

TEST_CASE("a collective call that a rank never joins times out with a message", "[mpi][fault]") {
  if (world().size() == 1) return;
  MPIOptions quick;
  quick.timeout_seconds = 1;
  MPICommunicator comm(MPI_COMM_WORLD, quick);
  if (world().rank() == 0) {
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(comm.barrier(), Catch::Contains("rank 0 of") && Catch::Contains("did not complete within 1 s"));
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(waited >= 1.0);
    CHECK(waited < 10.0);
    CHECK(comm.failed());
    CHECK_THROWS_WITH(comm.barrier(), Catch::Contains("an earlier collective call failed"));
  }
  world().barrier();  // the others join now, so that rank 0's barrier can complete in the background
  if (world().rank() != 0) comm.barrier();
  world().barrier();
}
