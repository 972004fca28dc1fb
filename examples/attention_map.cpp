// attention_map — draw the attention maps (어텐션맵) of one forward pass as heat maps.
//
// The chapter's picture: for each head of each layer, a square whose row t is the query (Q)
// of token t and whose column j is the key (K) of token j; the darker the cell, the more
// attention token t pays to token j. Right of the diagonal every cell is masked (마스킹):
// a token never sees the tokens after it, so there is no number there at all.
//
//   attention_map --model shakespeare-char --prompt "ROMEO: What" --out attention.svg
//   attention_map --model gpt2 --prompt "The cat sat on the mat" --layer 5 --head 1 --out one.svg
//   attention_map --model DIR --prompt-ids "31 78 52" --out maps.svg --json maps.json
//
// --model DIR is a folder with config.json and model.safetensors (any GPT-2 in the Hugging
// Face layout, or one saved by next_token_predictor); a text prompt needs its tokenizer files
// too (or --tokenizer DIR). Without --layer and --head every map is drawn, layers down and
// heads across; with both, one map, large, with its numbers in the cells. --json writes the
// numbers: per layer and head the (T, T) matrix, and the tokens.
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

using namespace minigpt;

int main(int argc, char** argv) {
  // ---- 1. flags ----
  CLI::App app{"Draw the attention maps (rows: queries Q, columns: keys K) of a GPT model for a prompt, as SVG."};
  std::string model_dir, prompt, prompt_ids, tokenizer_dir, out, json_path;
  Index layer = -1, head = -1;
  app.add_option("--model", model_dir, "folder with config.json and model.safetensors (required)");
  auto* text_flag = app.add_option("--prompt", prompt, "prompt text (needs the model's tokenizer files)");
  auto* ids_flag = app.add_option("--prompt-ids", prompt_ids, "prompt as token ids, e.g. \"464 2068 7586\"");
  text_flag->excludes(ids_flag);
  app.add_option("--tokenizer", tokenizer_dir, "folder with the tokenizer files (default: the --model folder)");
  app.add_option("--out", out, "the SVG picture to write (required)");
  app.add_option("--json", json_path, "also write the numbers (tokens, and per layer and head the T x T map) here");
  app.add_option("--layer", layer, "draw only this layer (0-based; default: all)");
  app.add_option("--head", head, "draw only this head (0-based; default: all)");
  try {
    app.parse(argc, argv);  // unknown flags and bad values first, then what is missing
    if (model_dir.empty()) throw CLI::ValidationError("--model DIR is required");
    if (out.empty()) throw CLI::ValidationError("--out FILE.svg is required");
    if (text_flag->count() == 0 && ids_flag->count() == 0)
      throw CLI::ValidationError("give a prompt: --prompt TEXT or --prompt-ids IDS");
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "attention_map: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    // ---- 2. the model, and its tokenizer (needed for text; used for labels when present) ----
    GPT<float> model = load_model<float>(model_dir);
    const GPTConfig& config = model.config();
    const std::string tok_dir = tokenizer_dir.empty() ? model_dir : tokenizer_dir;
    std::unique_ptr<Tokenizer> tokenizer;
    if (text_flag->count() > 0 || !tokenizer_dir.empty()) {
      tokenizer = load_tokenizer(tok_dir);  // required
    } else {
      try {
        tokenizer = load_tokenizer(tok_dir);  // optional: token labels as text when we can
      } catch (const Error&) {
      }
    }

    // ---- 3. the prompt as tokens, each with a label to write on the axes ----
    const std::vector<TokenId> ids =
        text_flag->count() > 0 ? tokenizer->encode(prompt) : parse_token_ids(prompt_ids, "--prompt-ids");
    const auto T = static_cast<Index>(ids.size());
    if (T == 0) throw ArgumentError("the prompt is empty: there is no token to draw");
    if (T > config.n_positions)
      throw ArgumentError("the prompt has " + std::to_string(T) + " tokens, past the block size of " +
                          std::to_string(config.n_positions) + ": this model reads at most that many at once");
    if (layer < -1 || layer >= config.n_layer)
      throw ArgumentError("--layer " + std::to_string(layer) + " is out of range: the model has " +
                          std::to_string(config.n_layer) + " layers (0.." + std::to_string(config.n_layer - 1) + ")");
    if (head < -1 || head >= config.n_head)
      throw ArgumentError("--head " + std::to_string(head) + " is out of range: each layer has " +
                          std::to_string(config.n_head) + " heads (0.." + std::to_string(config.n_head - 1) + ")");
    std::vector<std::string> labels;  // " the" -> "␣the"; half a Hangul syllable -> "\xED\x86"
    for (TokenId id : ids) {
      if (tokenizer && id >= 0 && id < tokenizer->vocab_size()) labels.push_back(chart::token_label(tokenizer->token_bytes(id)));
      else labels.push_back("#" + std::to_string(id));
    }

    // A grid of every map is for short prompts: a long one would make an enormous picture.
    const Index maps = (layer == -1 ? config.n_layer : 1) * (head == -1 ? config.n_head : 1);
    if (maps * T * (T + 1) / 2 > 2000000)
      throw ArgumentError("that is " + std::to_string(maps) + " maps of " + std::to_string(T) +
                          " tokens, too many cells for one picture: pick one with --layer and --head, or shorten the prompt");

    // ---- 4. one forward pass that keeps every layer's attention map: (1, H, T, T) each ----
    ForwardOptions<float> opt;
    opt.attention_maps = true;
    opt.last_position_only = true;  // the logits are not needed here, only the maps
    model.forward(ids, 1, T, opt);

    // ---- 5. heat maps: rows are queries (Q), columns keys (K), the future masked ----
    chart::save(attention_map_grid(model.attention_maps(), labels, layer, head), out);
    std::cout << "drew " << maps << (maps == 1 ? " attention map" : " attention maps") << " of " << T << " tokens to "
              << out << "\n";
    if (!json_path.empty()) {
      nlohmann::json numbers = attention_map_json(model.attention_maps(), labels, ids, layer, head);
      numbers["model"] = model_dir;
      chart::save_json(json_path, numbers);
      std::cout << "wrote the numbers to " << json_path << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "attention_map: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
