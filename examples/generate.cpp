// generate — continue a prompt with a GPT model: a Hugging Face folder or a GGUF file.
//
// This is the chapter's "generation" step: the model reads the prompt once (filling its KV
// cache), then predicts one token at a time, each new token fed back in.
//
//   generate --model gpt2 --prompt "The quick brown fox" --max-new-tokens 30
//   generate --model gpt2 --prompt-ids "464 2068 7586" --max-new-tokens 10 --temperature 0 --print-ids
//   generate --model gpt2-q8_0.gguf --prompt "The quick brown fox"
//   generate --model gpt2 --weights q8_0 --prompt "The quick brown fox"
//
// --model is a folder with config.json and model.safetensors, e.g. the `gpt2` model from the
// Hugging Face hub, or one saved by next_token_predictor; or a .gguf file (llama.cpp's format,
// made by `convert`), which holds the tokenizer as well. A text prompt needs a tokenizer: the
// folder's files (vocab.json + merges.txt, or a character vocabulary) or the GGUF file's.
// --weights runs the linear layers in f32, bf16 or q8_0 (int8 blocks, see weight_format.hpp);
// by default, in the format the model was stored in (a Q8_0 file runs in Q8_0).
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

using namespace minigpt;

int main(int argc, char** argv) {
  // ---- 1. flags ----
  CLI::App app{"Continue a prompt with a GPT model (Hugging Face folder or GGUF file), one token at a time."};
  std::string model_dir, prompt, prompt_ids, tokenizer_dir, weights;
  Index max_new_tokens = 50;
  GenerateOptions options;
  std::uint64_t seed = 1337;
  bool print_ids = false;
  app.add_option("--model", model_dir, "folder with config.json and model.safetensors, or a .gguf file (required)");
  app.add_option("--weights", weights, "run the weights as f32, bf16 or q8_0 (default: as stored)");
  auto* text_flag = app.add_option("--prompt", prompt, "prompt text (needs the model's tokenizer files)");
  auto* ids_flag = app.add_option("--prompt-ids", prompt_ids, "prompt as token ids, e.g. \"464 2068 7586\"");
  text_flag->excludes(ids_flag);
  app.add_option("--tokenizer", tokenizer_dir, "folder with the tokenizer files (default: the --model folder)");
  app.add_option("--max-new-tokens", max_new_tokens, "how many tokens to generate, up to a million (default 50)")
      ->check(CLI::Range(Index(0), Index(1000000)));
  app.add_option("--temperature", options.sampling.temperature,
                 "randomness: 0 = always the most likely token (greedy), 1 = the model's own probabilities (default 1)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", options.sampling.top_k, "sample only among the k most likely tokens (0 = all, default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", options.sampling.top_p,
                 "sample only among the most likely tokens whose probabilities add up to p (default 1 = all)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", seed, "random seed: the same seed gives the same text (default 1337)");
  app.add_flag("--print-ids", print_ids, "print only the generated ids, space-separated, on one line");
  try {
    app.parse(argc, argv);  // unknown flags and bad values first, then what is missing
    if (model_dir.empty()) throw CLI::ValidationError("--model DIR or --model FILE.gguf is required");
    if (prompt.empty() && prompt_ids.empty()) throw CLI::ValidationError("give a prompt: --prompt TEXT or --prompt-ids IDS");
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "generate: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    // ---- 2. the model (in the weight format asked for), and its tokenizer if it has one ----
    std::optional<WeightFormat> run_as;
    if (!weights.empty()) run_as = parse_weight_format(weights);
    ModelFile file = load_model_file(model_dir, run_as);
    GPT<float>& model = file.model;
    const std::string tok_dir = tokenizer_dir.empty() ? model_dir : tokenizer_dir;
    std::unique_ptr<Tokenizer> tokenizer = std::move(file.tokenizer);
    if (!tokenizer_dir.empty()) tokenizer = load_tokenizer(tokenizer_dir);
    if (!tokenizer && !prompt.empty())
      throw ArgumentError(model_dir + " holds no tokenizer for a text prompt (give --tokenizer DIR or --prompt-ids)");
    if (tokenizer && tokenizer->vocab_size() > model.config().vocab_size)
      throw ArgumentError("the tokenizer in " + tok_dir + " has " + std::to_string(tokenizer->vocab_size()) +
                          " tokens, more than the model's vocab_size " + std::to_string(model.config().vocab_size));

    // ---- 3. the prompt as ids ----
    const std::vector<TokenId> ids = prompt.empty() ? parse_token_ids(prompt_ids, "--prompt-ids") : tokenizer->encode(prompt);
    if (ids.empty()) throw ArgumentError("the prompt is empty: there is nothing to continue");
    if (static_cast<Index>(ids.size()) > model.config().n_positions)
      std::cerr << "note: the prompt has " << ids.size() << " tokens; the model reads the last "
                << model.config().n_positions << " (its block size)\n";
    if (tokenizer) {
      if (auto eot = tokenizer->special_token("<|endoftext|>")) options.stop_token = *eot;
    }

    // ---- 4. generate, printing each token the moment it is chosen ----
    options.max_new_tokens = max_new_tokens;
    Rng rng(seed);
    const bool text = tokenizer && !print_ids;
    if (text) {
      const std::string prompt_bytes = tokenizer->decode(ids);
      std::fwrite(prompt_bytes.data(), 1, prompt_bytes.size(), stdout);
    }
    std::size_t printed = 0;
    generate(model, ids, 1, options, rng, [&](Index, TokenId id) {
      if (text) {
        if (id == options.stop_token) return;  // <|endoftext|> ends the text; it is not part of it
        // Raw bytes: a character split across two tokens is completed by the next one.
        const std::string bytes = tokenizer->token_bytes(id);
        std::fwrite(bytes.data(), 1, bytes.size(), stdout);
      } else {
        std::printf(printed ? " %d" : "%d", static_cast<int>(id));
      }
      ++printed;
      std::fflush(stdout);
    });
    std::printf("\n");
  } catch (const std::exception& e) {
    const std::string what = e.what();  // library errors from generate() already start with "generate: "
    std::cerr << (what.rfind("generate: ", 0) == 0 ? "" : "generate: ") << what << "\n";
    return 1;
  }
  return 0;
}
