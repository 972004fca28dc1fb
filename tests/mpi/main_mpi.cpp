// The Catch2 main of the data-parallel tests: every rank that mpirun starts runs every test
// case, in the same order (their collective calls must meet), and the run passes only if
// every rank passes.
#define CATCH_CONFIG_RUNNER
#include "mpi_common.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

namespace test {
minigpt::Communicator* mpi_world = nullptr;
}

int main(int argc, char** argv) {
  minigpt::ProcessGroup world(argc, argv);
  test::mpi_world = &world.communicator();
  const int failed = Catch::Session().run(argc, argv);
  std::int64_t failures = failed;
  world.communicator().allreduce_sum(&failures, 1);
  return world.finish(failures == 0 ? 0 : 1);
}
