#include <minigpt/minigpt.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  using namespace minigpt;
  const std::string dir = argc > 1 ? argv[1] : "shakespeare-char";  // what the Quick start saved
  GPT<float> model = load_model<float>(dir);           // config.json + model.safetensors
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(dir);
  std::vector<TokenId> ids = tokenizer->encode("ROMEO:");

  const Tensor<float>& logits = model.forward(ids, 1, ids.size());  // (B, T, V)
  TokenId next = argmax(&logits(0, ids.size() - 1, 0), model.config().vocab_size);
  std::printf("next token: '%s'\n", escape_bytes(tokenizer->decode({next})).c_str());

  GenerateOptions options;                             // KV-cached sampling
  options.max_new_tokens = 100;
  options.sampling.top_k = 40;
  Rng rng(1337);                                       // same seed, same text
  auto out = generate(model, ids, 1, options, rng);
  std::printf("ROMEO:%s\n", tokenizer->decode(out[0]).c_str());
}
