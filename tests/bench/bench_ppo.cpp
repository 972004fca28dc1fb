// PPO (ppo_trainer.hpp) measured on a toy task, no peer: the reward is the share of answer
// tokens equal to one chosen token, the reference a freshly initialised model (near uniform
// over the vocabulary, so the reward starts near 1/V).
//   1. the KL leash: the same run with several fixed β — the reward at the end, the KL to the
//      reference per answer, the entropy, the share of answers that ended;
//   2. speed: seconds per PPO step (rollouts, scoring, 4 epochs of minibatch updates) for a
//      model of nanoGPT's shakespeare_char size (4 layers, 4 heads, C 128, V 65), 32 rollouts
//      of up to 16 tokens after prompts of 20, minibatches of 8.
// Usage: bench_ppo [--steps N] [--speed-steps N]
#include "bench_common.hpp"
#include "../ppo_toy.hpp"

#include <minigpt/minigpt.hpp>

#include <cstdio>
#include <cstring>
#include <string>

using namespace minigpt;

int main(int argc, char** argv) {
  Index steps = 40, speed_steps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::stol(argv[i + 1]);
    if (std::strcmp(argv[i], "--speed-steps") == 0) speed_steps = std::stol(argv[i + 1]);
  }
  using ppo_toy::liked_share;

  // 1. the KL leash, on the toy task of the tests (../ppo_toy.hpp)
  const GPT<float> sft = ppo_toy::tiny_model<float>(21);
  Rng rng(22);
  const auto prompts = ppo_toy::toy_prompts(32, rng);
  std::printf("toy task: V 8, 1 layer, C 8; 16 rollouts of up to 6 tokens per step, minibatches of 4, lr 3e-3, %ld steps\n",
              static_cast<long>(steps));
  std::printf("%8s %12s %12s %12s %12s %12s %10s\n", "beta", "score first", "score last", "KL last", "entropy last",
              "ended last", "s/step");
  for (double beta : {0.0, 0.001, 0.01, 0.05, 0.2, 1.0}) {
    GPT<float> policy = sft;
    PPOOptions o = ppo_toy::toy_options();
    o.steps = steps;
    o.config.kl_coef = beta;
    const double t0 = bench::now();
    const PPOHistory h = run_ppo(policy, sft, liked_share, {}, prompts, o);
    const double seconds = (bench::now() - t0) / static_cast<double>(steps);
    auto last5 = [&](double PPOStepStats::*f) {
      double s = 0;
      for (std::size_t i = h.steps.size() - 5; i < h.steps.size(); ++i) s += h.steps[i].*f / 5;
      return s;
    };
    auto first3 = [&](double PPOStepStats::*f) { return (h.steps[0].*f + h.steps[1].*f + h.steps[2].*f) / 3; };
    std::printf("%8.3f %12.3f %12.3f %12.3f %12.3f %12.3f %10.3f\n", beta, first3(&PPOStepStats::mean_score),
                last5(&PPOStepStats::mean_score), last5(&PPOStepStats::mean_kl), last5(&PPOStepStats::entropy),
                last5(&PPOStepStats::ended_share), seconds);
  }

  // 2. speed at nanoGPT's shakespeare_char size
  GPT<float> baby(GPTConfig::make(4, 4, 128, 64, 65));
  Rng init2(1);
  baby.init_weights(init2);
  GPT<float> policy = baby;
  Rng rng2(2);
  PPOOptions o;
  o.stop_token = 0;
  o.max_new_tokens = 16;
  o.batch_size = 32;
  o.mini_batch_size = 8;
  o.steps = speed_steps;
  const PPOHistory h = run_ppo(policy, baby, liked_share, {}, ppo_toy::toy_prompts(64, rng2, 20, 20, 65), o);
  std::vector<double> secs;
  for (const PPOStepStats& s : h.steps) secs.push_back(s.seconds);
  std::printf("speed: 4 layers, 4 heads, C 128, V 65; 32 rollouts of up to 16 tokens after 20-token prompts, "
              "4 epochs of minibatches of 8: %.2f s per PPO step (median of %ld), mean answer %.1f tokens, %d threads\n",
              bench::median(secs), static_cast<long>(secs.size()), h.steps.back().mean_length, detail::max_threads());
  return 0;
}
