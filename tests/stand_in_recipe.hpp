// A stand-in for the recipe's folder (DIR/data, DIR/base, DIR/sft), for the hallucination
// program's test and for runs made before the recipe's SFT step exists: a fact world, a
// character-level base model pre-trained on its text with the Trainer, and an "SFT" model that
// continues from the base on the demonstrations written as plain text (Q/A lines) mixed with
// the pre-training text. Unlike the recipe's SFT the prompt's tokens are not masked out of the
// loss; the model learns the same format and the same "I don't know" rule.
#pragma once

#include <minigpt/char_tokenizer.hpp>
#include <minigpt/checkpoint.hpp>
#include <minigpt/fact_world.hpp>
#include <minigpt/progress.hpp>
#include <minigpt/training.hpp>

#include <iostream>
#include <string>

namespace test {

struct StandInOptions {
  minigpt::WorldOptions world;
  minigpt::Index n_layer = 2, n_head = 2, n_embd = 32, block = 64, batch = 8;
  minigpt::Index base_steps = 300, sft_steps = 100;
  double base_lr = 2e-3, sft_lr = 5e-4;
  minigpt::Index demo_repeats = 20;  // copies of the demonstrations in the SFT text
  bool progress = false;
};

inline void train_steps(minigpt::Trainer<float>& t, bool progress, const char* what) {
  minigpt::ProgressBar bar(std::cerr, t.options().max_iters, false, 25);
  if (progress) std::cerr << what << "\n";
  while (!t.done()) {
    const minigpt::StepResult r = t.train_step();
    if (progress) bar.update(r.step, r.loss, r.tokens);
  }
}

inline void make_stand_in_recipe(const std::string& dir, const std::string& prose, const StandInOptions& o) {
  using namespace minigpt;
  const FactWorld w = FactWorld::generate(o.world, prose);
  w.write(dir + "/data");
  const CharTokenizer tok = CharTokenizer::from_text(w.pretrain_text());
  const GPTConfig config = GPTConfig::make(o.n_layer, o.n_head, o.n_embd, o.block, tok.vocab_size());
  TrainOptions to;
  to.batch_size = o.batch, to.block_size = o.block, to.max_iters = o.base_steps;
  to.lr = {o.base_lr, o.base_lr / 10, std::min<Index>(100, o.base_steps / 10), o.base_steps};
  Trainer<float> base(config, to, {tok.encode(w.pretrain_text()), {}});
  train_steps(base, o.progress, "pre-training the base model");
  detail::make_directories(dir + "/base");
  save_model(base.model(), dir + "/base");
  tok.save(dir + "/base");

  // The demonstrations as text, shuffled anew for every copy, then the pre-training text.
  std::string sft_text;
  Rng rng(o.world.seed + 1);
  std::vector<SFTExample> demos = w.sft_examples();
  for (Index r = 0; r < o.demo_repeats; ++r) {
    for (std::size_t i = demos.size(); i > 1; --i) std::swap(demos[i - 1], demos[rng.below(i)]);
    for (const SFTExample& d : demos) sft_text += d.prompt + d.completion;
  }
  sft_text += w.pretrain_text();
  to.max_iters = o.sft_steps;
  to.lr = {o.sft_lr, o.sft_lr / 10, std::min<Index>(20, o.sft_steps / 10), o.sft_steps};
  Trainer<float> sft(config, to, {tok.encode(sft_text), {}});
  sft.model().parameters().flat() = base.model().parameters().flat();
  train_steps(sft, o.progress, "fine-tuning on the demonstrations (stand-in SFT)");
  detail::make_directories(dir + "/sft");
  save_model(sft.model(), dir + "/sft");
  tok.save(dir + "/sft");
}

}  // namespace test
