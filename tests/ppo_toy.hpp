// The toy task PPO is tested (test_ppo_trainer.cpp) and measured (bench/bench_ppo.cpp) on: a
// GPT of one layer, C 8, over a vocabulary of 8 tokens where 7 ends an answer, prompts of a
// few random tokens, and a reward that is the share of the answer's tokens equal to 3.
#pragma once

#include <minigpt/gpt.hpp>
#include <minigpt/ppo_trainer.hpp>
#include <minigpt/random.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ppo_toy {

using minigpt::Index;
using minigpt::TokenId;

constexpr TokenId stop = 7;   // the tiny vocabulary's "newline"
constexpr TokenId liked = 3;  // the token the toy reward likes

template <typename S>
minigpt::GPT<S> tiny_model(std::uint64_t seed, Index n_positions = 16, double scale = 1.0) {
  minigpt::GPT<S> model(minigpt::GPTConfig::make(1, 2, 8, n_positions, 8));
  minigpt::Rng rng(seed);
  model.init_weights(rng);
  // Larger weights than GPT-2's 0.02 make the distributions far from uniform, so the
  // gradients are not all alike.
  model.parameters().flat() *= static_cast<S>(scale);
  return model;
}

// n prompts of min_len to max_len tokens (several lengths by default) drawn below `vocab`
// (by default every token but the stop token).
inline std::vector<std::vector<TokenId>> toy_prompts(Index n, minigpt::Rng& rng, Index min_len = 2, Index max_len = 4,
                                                     Index vocab = 7) {
  std::vector<std::vector<TokenId>> prompts;
  for (Index i = 0; i < n; ++i) {
    std::vector<TokenId> p;
    const Index len = min_len + static_cast<Index>(rng.below(static_cast<std::uint64_t>(max_len - min_len + 1)));
    for (Index t = 0; t < len; ++t) p.push_back(static_cast<TokenId>(rng.below(static_cast<std::uint64_t>(vocab))));
    prompts.push_back(p);
  }
  return prompts;
}

// The share of the answer's tokens that are `liked`.
inline double liked_share(const std::vector<TokenId>&, const std::vector<TokenId>& answer) {
  return static_cast<double>(std::count(answer.begin(), answer.end(), liked)) / static_cast<double>(answer.size());
}

// 16 rollouts of up to 6 tokens a step, minibatches of 4, lr 3e-3.
inline minigpt::PPOOptions toy_options() {
  minigpt::PPOOptions o;
  o.stop_token = stop;
  o.max_new_tokens = 6;
  o.batch_size = 16;
  o.mini_batch_size = 4;
  o.learning_rate = 3e-3;
  o.seed = 5;
  return o;
}

}  // namespace ppo_toy
