// embedding_map — draw a model's token embeddings (임베딩) as points in a plane.
//
// Every token has a vector of C numbers (the rows of wte, the token embedding table). This
// program finds the plane along which those vectors spread the most (principal component
// analysis, computed with Eigen: embedding_map.hpp) and draws each token where its vector
// falls in that plane, labelled with the token itself. For a character-level model the
// points are coloured by kind: vowels, consonants, capitals, digits, punctuation, white space.
//
//   next_token_predictor                                  # saves shakespeare-char/
//   embedding_map --model shakespeare-char --out embeddings.svg --json embeddings.json
//   embedding_map --model gpt2 --max-tokens 256 --out bytes.svg   # GPT-2's 256 byte tokens
//
// --model DIR is a folder with config.json and model.safetensors; the labels come from its
// tokenizer files (or --tokenizer DIR; without any, tokens are labelled by id). --max-tokens
// draws the first N ids only (default 400): the projection is computed from those tokens.
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

using namespace minigpt;

int main(int argc, char** argv) {
  // ---- 1. flags ----
  CLI::App app{"Draw a model's token embeddings projected to 2-D (PCA) as labelled points, as SVG."};
  std::string model_dir, tokenizer_dir, out, json_path;
  Index max_tokens = 400;
  app.add_option("--model", model_dir, "folder with config.json and model.safetensors (required)");
  app.add_option("--tokenizer", tokenizer_dir, "folder with the tokenizer files (default: the --model folder)");
  app.add_option("--out", out, "the SVG picture to write (required)");
  app.add_option("--json", json_path, "also write the numbers (tokens, coordinates, variance explained) here");
  app.add_option("--max-tokens", max_tokens, "draw the first N token ids (default 400)")->check(CLI::Range(Index(2), Index(100000)));
  try {
    app.parse(argc, argv);
    if (model_dir.empty()) throw CLI::ValidationError("--model DIR is required");
    if (out.empty()) throw CLI::ValidationError("--out FILE.svg is required");
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "embedding_map: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    // ---- 2. the model's token embeddings: wte, one row of C numbers per token id ----
    GPT<float> model = load_model<float>(model_dir);
    const Index V = model.config().vocab_size, C = model.config().n_embd;
    const Index n = std::min(V, max_tokens);
    const Eigen::MatrixXd wte = model.parameters().get("wte.weight").topRows(n).cast<double>();  // (n, C)

    // ---- 3. each token's text, for its label and its group ----
    std::unique_ptr<Tokenizer> tokenizer;
    try {
      tokenizer = load_tokenizer(tokenizer_dir.empty() ? model_dir : tokenizer_dir);
    } catch (const Error&) {
      if (!tokenizer_dir.empty()) throw;  // asked for, so required
    }
    std::vector<std::string> tokens;
    for (Index id = 0; id < n; ++id)
      tokens.push_back(tokenizer && id < tokenizer->vocab_size() ? tokenizer->token_bytes(static_cast<TokenId>(id))
                                                                 : "#" + std::to_string(id));

    // ---- 4. the plane of most spread: the two principal components ----
    const PCA p = pca(wte, 2);
    std::printf("%lld of %lld token vectors of %lld numbers; the plane shown holds %.1f%% of their variance "
                "(%.1f%% + %.1f%%)\n", (long long)n, (long long)V, (long long)C, 100 * (p.explained(0) + p.explained(1)),
                100 * p.explained(0), 100 * p.explained(1));

    // ---- 5. draw: one labelled point per token, coloured by kind ----
    std::string name = model_dir;  // the folder's own name, for the title
    while (name.size() > 1 && name.back() == '/') name.pop_back();
    name = name.substr(name.find_last_of('/') + 1);
    const std::string title = "token embeddings of " + name + ": " + std::to_string(n) + " tokens, C = " + std::to_string(C);
    chart::save(embedding_map_figure(p, tokens, title), out);
    std::cout << "drew " << n << " tokens to " << out << "\n";
    if (!json_path.empty()) {
      nlohmann::json j{{"model", model_dir},
                       {"dimensions", C},
                       {"explained_variance_ratio", {p.explained(0), p.explained(1)}},
                       {"variance", {p.variance(0), p.variance(1)}},
                       {"total_variance", p.total_variance},
                       {"tokens", nlohmann::json::array()}};
      for (Index i = 0; i < n; ++i)
        j["tokens"].push_back({{"id", i},
                               {"label", chart::token_label(tokens[static_cast<std::size_t>(i)])},
                               {"group", token_group(tokens[static_cast<std::size_t>(i)])},
                               {"x", p.coordinates(i, 0)},
                               {"y", p.coordinates(i, 1)}});
      chart::save_json(json_path, j);
      std::cout << "wrote the numbers to " << json_path << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "embedding_map: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
