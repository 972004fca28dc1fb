// model_sizes — the numbers the chapter quotes for GPT-1, GPT-2 and GPT-3, computed.
//
// From each configuration (config.hpp: layers, heads, d_model, context, vocabulary) follow
// the head size (GPT-3: 12,288 / 96 = 128), the exact parameter count, the attention
// computations per token (layers × heads: GPT-3's 96 × 96 = 9,216), the arithmetic per token
// (training ≈ 6N; inference ≈ 2N + 4·L·n_ctx·d_model at a full context) and the memory each
// token takes in the KV cache (2 · L · d_model numbers). See model_sizes.hpp for the formulas.
//
//   model_sizes                              a table on screen
//   model_sizes --markdown                   the same table in Markdown
//   model_sizes --model shakespeare-char     add a row for a saved model (its config.json)
//   model_sizes --json sizes.json            the numbers as JSON too
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

using namespace minigpt;

// 174604259328 -> "174,604,259,328"
static std::string commas(Index v) {
  std::string digits = std::to_string(v);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
}

int main(int argc, char** argv) {
  // ---- 1. flags ----
  CLI::App app{"Sizes of GPT-1, GPT-2 and GPT-3: parameters, heads, attention computations, FLOPs and KV cache per token."};
  bool markdown = false;
  std::vector<std::string> model_dirs;
  std::string json_path;
  app.add_flag("--markdown", markdown, "print the table in Markdown");
  app.add_option("--model", model_dirs, "also a saved model: a folder with config.json (may be repeated)");
  app.add_option("--json", json_path, "also write the numbers to this JSON file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "model_sizes: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    // ---- 2. the models: the chapter's presets, then any saved folders ----
    std::vector<std::pair<std::string, GPTConfig>> models;
    for (const auto& [name, preset] : chapter_models()) models.emplace_back(name, GPTConfig::preset(preset));
    for (const std::string& dir : model_dirs) models.emplace_back(dir, load_config(dir + "/config.json"));

    // ---- 3. one row of numbers per model ----
    const std::vector<std::string> header = {"model", "layers", "heads", "head size", "d_model", "context",
                                             "parameters N", "attention per token (L×H)", "training FLOPs per token (6N)",
                                             "inference FLOPs per token (2N + 4·L·n_ctx·d)", "KV cache per token (fp16 bytes)"};
    std::vector<std::vector<std::string>> rows;
    nlohmann::json numbers = nlohmann::json::array();
    for (const auto& [name, config] : models) {
      const ModelSizes s = model_sizes(config);
      rows.push_back({name, commas(s.layers), commas(s.heads), commas(s.head_size), commas(s.d_model), commas(s.context),
                      commas(s.parameters), commas(s.attention_per_token), commas(s.train_flops_per_token),
                      commas(s.inference_flops_per_token), commas(s.kv_cache_bytes_fp16)});
      numbers.push_back({{"model", name},
                         {"layers", s.layers},
                         {"heads", s.heads},
                         {"head_size", s.head_size},
                         {"d_model", s.d_model},
                         {"context", s.context},
                         {"vocab", s.vocab},
                         {"parameters", s.parameters},
                         {"non_embedding_parameters", s.non_embedding_parameters},
                         {"attention_per_token", s.attention_per_token},
                         {"train_flops_per_token", s.train_flops_per_token},
                         {"inference_flops_per_token", s.inference_flops_per_token},
                         {"kv_cache_bytes_per_token_fp16", s.kv_cache_bytes_fp16}});
    }

    // ---- 4. the table: Markdown, or columns aligned for the terminal ----
    if (markdown) {
      auto line = [](const std::vector<std::string>& cells) {
        std::string s = "|";
        for (const std::string& c : cells) s += " " + c + " |";
        return s + "\n";
      };
      std::cout << line(header) << "|---|";
      for (std::size_t i = 1; i < header.size(); ++i) std::cout << "---:|";
      std::cout << "\n";
      for (const auto& r : rows) std::cout << line(r);
    } else {
      // Terminal: one row per model, short column names, numbers right-aligned.
      const std::vector<std::string> short_header = {"model", "L", "H", "hs", "d_model", "n_ctx", "parameters N",
                                                     "L×H", "train FLOPs/token", "infer FLOPs/token", "KV bytes/token"};
      std::vector<std::size_t> width(short_header.size());
      auto chars = [](const std::string& s) {  // characters, not bytes ("×" is two bytes)
        std::size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
      };
      for (std::size_t i = 0; i < width.size(); ++i) {
        width[i] = chars(short_header[i]);
        for (const auto& r : rows) width[i] = std::max(width[i], chars(r[i]));
      }
      auto print = [&](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
          const std::string pad(width[i] - chars(cells[i]), ' ');
          std::cout << (i ? "  " : "") << (i == 0 ? cells[i] + pad : pad + cells[i]);
        }
        std::cout << "\n";
      };
      print(short_header);
      for (const auto& r : rows) print(r);
    }
    std::cout << "\nL layers, H heads of hs numbers (H × hs = d_model), n_ctx the context. FLOPs per token: training "
                 "≈ 6N (2N forward, 4N backward);\ninference ≈ 2N + 4·L·n_ctx·d_model at a full context (Q·Kᵀ and "
                 "att·V in every layer). KV cache: 2 · L · d_model numbers of 2 bytes.\n";
    if (!json_path.empty()) chart::save_json(json_path, {{"models", numbers}});
  } catch (const std::exception& e) {
    std::cerr << "model_sizes: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
