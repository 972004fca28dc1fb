// Shared by the data-parallel tests: the ranks mpirun started, a folder all of them share, and
// a learnable token sequence.
#pragma once

#include "../common.hpp"

#include <minigpt/distributed.hpp>
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

// Mostly "next = previous + 1", sometimes a random jump (as test_training.cpp).
inline std::vector<minigpt::TokenId> learnable_tokens(minigpt::Index n, minigpt::Index vocab, std::uint64_t seed) {
  minigpt::Rng rng(seed);
  std::vector<minigpt::TokenId> t(static_cast<std::size_t>(n));
  minigpt::TokenId prev = 0;
  for (auto& x : t) {
    x = rng.uniform() < 0.8 ? static_cast<minigpt::TokenId>((prev + 1) % vocab)
                            : static_cast<minigpt::TokenId>(rng.below(static_cast<std::uint64_t>(vocab)));
    prev = x;
  }
  return t;
}

}  // namespace test
