// Shared by the data-parallel tests: the ranks mpirun started, a folder all of them share, a
// learnable token sequence, and the victim run that the fault tests kill (test_mpi_faults.cpp).
#pragma once

#include "../common.hpp"

#include <minigpt/distributed.hpp>
#include <minigpt/data_loader.hpp>
#include <minigpt/random.hpp>

namespace test {

extern minigpt::Communicator* mpi_world;

inline minigpt::Communicator& world() { return *mpi_world; }

// test::scratch, made by rank 0 alone while the others wait.
inline std::string shared_scratch(const std::string& name) {
  if (world().rank() == 0) scratch(name);
  world().barrier();
  return "scratch-" + name;
}

// The victim of the fault tests: trains a tiny model on the ranks for ever, rank 0 saving a
// checkpoint in dir/run every 10 steps; each rank writes its process id to dir/rank-R.pid.
// When a collective call fails or times out it prints why and stops every rank (exit 1).
int victim(minigpt::ProcessGroup& world, const std::string& dir);

// The victim's data (the launcher resumes its checkpoint on the same tokens).
inline minigpt::DataSplit victim_data() { return minigpt::split_train_val(learnable_tokens(4000, 11, 10)); }

}  // namespace test
