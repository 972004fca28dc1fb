// Data parallelism without MPI (the default build, MINIGPT_USE_MPI=OFF): distributed.hpp and
// communicator.hpp still build and give one rank; a Trainer given that one-rank communicator
// trains bit for bit as one given none; a program built without MPI that mpirun started as
// one of several ranks refuses to start instead of training alone. (The ranks themselves are
// tested under mpirun in tests/mpi/.)
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/distributed.hpp>
#include <minigpt/training.hpp>

#include <cmath>
#include <cstdlib>

using namespace minigpt;

TEST_CASE("one rank: the communicator's calls change nothing and the checks pass", "[distributed]") {
  SingleProcess one;
  CHECK(one.rank() == 0);
  CHECK(one.size() == 1);
  std::vector<float> g{1.5f, -2.0f};
  one.allreduce_sum(g.data(), 2);
  CHECK(g == std::vector<float>{1.5f, -2.0f});
  CHECK_NOTHROW(check_same(one, "the seed", "1337"));
  CHECK_NOTHROW(agree_ok(one, nullptr, "saving"));
  // A failure on the one rank is its own error, not a DistributedError.
  CHECK_THROWS_AS(on_every_rank(one, "reading", [] { throw FileError("x.json", "step", "is not a number"); }),
                  FileError);
  // The fingerprint sees one bit.
  float a[2] = {1.0f, 2.0f}, b[2] = {1.0f, std::nextafter(2.0f, 3.0f)};
  CHECK(bytes_fingerprint(a, sizeof a) != bytes_fingerprint(b, sizeof b));
  CHECK(bytes_fingerprint(a, sizeof a) == bytes_fingerprint(a, sizeof a));
}

TEST_CASE("a Trainer on one rank trains bit for bit as one without a communicator", "[distributed][training]") {
  const GPTConfig c = GPTConfig::make(2, 2, 16, 16, 11);
  TrainOptions o;
  o.batch_size = 4;
  o.block_size = 8;
  o.max_iters = 4;
  o.lr = {3e-3, 3e-4, 1, 4};
  const DataSplit data = split_train_val(test::learnable_tokens(2000, 11, 3));
  int argc = 1;
  char name[] = "test";
  char* args[] = {name, nullptr};
  char** argv = args;
  ProcessGroup world(argc, argv);
  CHECK(world.size() == 1);
  CHECK(world.rank() == 0);
  Trainer<float> alone(c, o, data), grouped(c, o, data, &world.communicator());
  CHECK(grouped.ranks() == 1);
  while (!alone.done()) {
    const StepResult a = alone.train_step(), b = grouped.train_step();
    CHECK(a.loss == b.loss);
    CHECK(a.grad_norm == b.grad_norm);
  }
  const auto& p = alone.model().parameters();
  const auto& q = grouped.model().parameters();
  CHECK(std::equal(p.data(), p.data() + p.size(), q.data()));
  CHECK(world.finish(0) == 0);
}

TEST_CASE("built without MPI, a program that mpirun started as one of several ranks refuses to start",
          "[distributed]") {
  if (mpi_available()) return;  // this build has MPI: the ranks are real (tests/mpi/)
  int argc = 1;
  char name[] = "test";
  char* args[] = {name, nullptr};
  char** argv = args;
  REQUIRE(::setenv("OMPI_COMM_WORLD_SIZE", "2", 1) == 0);
  try {
    ProcessGroup world(argc, argv);
    FAIL("ProcessGroup should have refused");
  } catch (const DistributedError& e) {
    CHECK_THAT(e.what(), Catch::Contains("started as one of 2 ranks") && Catch::Contains("MINIGPT_USE_MPI=ON"));
  }
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ProcessGroup alone(argc, argv);  // one rank is fine
  CHECK(alone.size() == 1);
}
