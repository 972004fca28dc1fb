// The Catch2 main of the data-parallel tests. One program, three roles:
//   minigpt_mpi_tests [catch args]               a rank (under mpirun): every rank runs every
//                                                [mpi] test case in the same order (their
//                                                collective calls must meet), and the run
//                                                passes only if every rank passes;
//   minigpt_mpi_tests --launcher [catch args]    not a rank (no MPI): runs the [launcher] test
//                                                cases, which start `mpirun -np 2` of this
//                                                program as a victim and kill or stop a rank;
//   minigpt_mpi_tests --victim DIR               a rank of such a run: trains for ever,
//                                                saving a checkpoint in DIR/run every 10 steps.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <minigpt/distributed.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

namespace test {
minigpt::Communicator* mpi_world = nullptr;                          // see mpi_common.hpp
int victim(minigpt::ProcessGroup& world, const std::string& dir);    // test_mpi_faults.cpp
}  // namespace test

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--launcher") {
    argv[1] = argv[0];
    return Catch::Session().run(argc - 1, argv + 1);
  }
  minigpt::ProcessGroup world(argc, argv);
  if (argc == 3 && std::string(argv[1]) == "--victim") return test::victim(world, argv[2]);
  test::mpi_world = &world.communicator();
  const int failed = Catch::Session().run(argc, argv);
  std::int64_t failures = failed;
  try {
    world.communicator().allreduce_sum(&failures, 1);
  } catch (const minigpt::Error& e) {  // a test left the ranks out of step: stop them all
    std::fprintf(stderr, "%s\n", e.what());
    return world.finish(1);
  }
  return world.finish(failures == 0 ? 0 : 1);
}
