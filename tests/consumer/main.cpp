// Builds against the installed package and runs a tiny model end to end: the parameter count
// of GPT-2 small, then a forward pass and a greedy continuation of a random model; and GPT-2's
// tokenizer from the package's data folder (minigpt_DATA_DIR) gives OpenAI's ids.
#include <minigpt/minigpt.hpp>

#include <iostream>

int main() {
  using namespace minigpt;
  if (GPTConfig::gpt2().parameter_count() != 124439808) return 1;
  GPT<float> model(GPTConfig::make(2, 2, 16, 32, 50));
  Rng rng(1);
  model.init_weights(rng);
  GenerateOptions opt;
  opt.max_new_tokens = 5;
  opt.sampling.temperature = 0;
  const auto out = generate(model, {1, 2, 3}, 1, opt, rng);
  std::cout << "consumer ok:";
  for (TokenId id : out[0]) std::cout << ' ' << id;
  const std::vector<TokenId> hello = load_tokenizer(GPT2_VOCABULARY)->encode("Hello world");
  std::cout << "; \"Hello world\" ->";
  for (TokenId id : hello) std::cout << ' ' << id;
  std::cout << '\n';
  return out[0].size() == 5 && hello == std::vector<TokenId>{15496, 995} ? 0 : 1;
}
