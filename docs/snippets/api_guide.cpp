// The API guide (docs/api.md) as one program. Each part between a line "// [name]" and a line
// "// [end]" appears in the guide exactly as it stands here, less its indentation (a test
// compares them), and a test runs the program on a model folder.
//   api_guide [MODEL_DIR]     default: shakespeare-char, what next_token_predictor saves
#include <minigpt/minigpt.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace minigpt;

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "shakespeare-char";
  try {
    // [load]
    GPT<float> model = load_model<float>(dir);            // config.json + model.safetensors
    std::unique_ptr<Tokenizer> tok = load_tokenizer(dir);  // whatever tokenizer the folder holds
    const GPTConfig& config = model.config();
    std::printf("%lld layers, %lld heads, C = %lld, up to T = %lld tokens, V = %lld: %lld parameters\n",
                (long long)config.n_layer, (long long)config.n_head, (long long)config.n_embd,
                (long long)config.n_positions, (long long)config.vocab_size, (long long)config.parameter_count());
    // [end]

    // [tokenize]
    const std::string prompt = "ROMEO:";
    const std::vector<TokenId> ids = tok->encode(prompt);  // text -> ids; tok->decode(ids) == prompt
    for (TokenId id : ids) std::printf("%d '%s'  ", id, escape_bytes(tok->decode({id})).c_str());
    std::printf("\n");
    // [end]

    // [forward]
    const Index T = static_cast<Index>(ids.size());
    const Tensor<float>& logits = model.forward(ids, 1, T);  // B = 1 sequence of T tokens
    std::printf("logits (B, T, V) = (%lld, %lld, %lld)\n", (long long)logits.dim(0), (long long)logits.dim(1),
                (long long)logits.dim(2));
    // logits(0, t, v): the score of token v coming after position t
    // [end]

    // [top-k]
    // softmax over the last position's scores: (token, probability) pairs, most likely first
    const auto next = sampling_distribution(&logits(0, T - 1, 0), config.vocab_size, SamplingOptions{});
    for (std::size_t i = 0; i < 5 && i < next.size(); ++i)
      std::printf("'%s' %.1f%%  ", escape_bytes(tok->decode({next[i].first})).c_str(), 100 * next[i].second);
    std::printf("\n");
    // [end]

    // [attention]
    ForwardOptions<float> keep;
    keep.attention_maps = true;
    model.forward(ids, 1, T, keep);
    const std::vector<Tensor<float>>& maps = model.attention_maps();  // one per layer: (B, H, T, T)
    std::printf("layer 0, head 0 (rows: queries, columns: keys; above the diagonal: masked)\n");
    for (Index q = 0; q < T; ++q) {
      for (Index k = 0; k < T; ++k) std::printf(" %.3f", maps[0](0, 0, q, k));  // each row sums to 1
      std::printf("\n");
    }
    // [end]

    // [generate]
    GenerateOptions options;
    options.max_new_tokens = 60;
    options.sampling.temperature = 0.8;  // below 1: the likely tokens a little likelier still
    options.sampling.top_k = 20;         // draw only among the 20 most likely
    Rng rng(1337);                       // the same seed gives the same text
    const std::vector<TokenId> more = generate(model, ids, 1, options, rng)[0];  // the new tokens
    std::printf("%s%s\n", prompt.c_str(), tok->decode(more).c_str());
    // [end]

    // [save]
    save_model(model, "my-model");  // config.json + model.safetensors: the Hugging Face layout
    tok->save("my-model");          // the tokenizer travels with the model
    const GPT<float> again = load_model<float>("my-model");
    const bool same = (again.parameters().flat() == model.parameters().flat()).all();
    std::printf("saved in my-model/ and loaded back: %s\n", same ? "the same weights" : "different weights");
    // [end]
  } catch (const Error& e) {  // a missing folder, a broken file: the error names it
    std::fprintf(stderr, "api_guide: %s\n", e.what());
    return 1;
  }
  return 0;
}
