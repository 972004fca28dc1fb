// convert — move a GPT-2 model between the Hugging Face layout and llama.cpp's GGUF file.
//
// A trained model is its parameters plus its tokenizer. Hugging Face keeps them in a folder
// (config.json, model.safetensors, vocab.json + merges.txt); llama.cpp keeps all of it in one
// .gguf file. This program reads either and writes either:
//
//   convert my-gpt2 my-gpt2.gguf                 # folder -> GGUF, f32 weights
//   convert my-gpt2 my-gpt2-q8.gguf --type q8_0  # ... with 8-bit weights (34 bytes per 32)
//   convert gpt2.gguf gpt2-folder                # GGUF -> folder (weights back in f32)
//   convert gpt2.gguf gpt2-f16.gguf --type f16   # GGUF -> GGUF in another type
//
// A path ending in .gguf is a GGUF file; anything else is a model folder. --type chooses how
// a GGUF file stores the weight matrices (biases and norms stay f32); a folder always holds f32.
#include <minigpt/minigpt.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

using namespace minigpt;

namespace {

bool is_gguf(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

}  // namespace

int main(int argc, char** argv) {
  // ---- 1. flags ----
  CLI::App app{"Convert a GPT-2 model between a Hugging Face folder and a GGUF file (either way)."};
  std::string in, out, type_name = "f32";
  app.add_option("IN", in, "model folder, or a .gguf file")->required();
  app.add_option("OUT", out, "model folder, or a .gguf file (written atomically)")->required();
  app.add_option("--type", type_name, "how a .gguf file stores the weight matrices: f32 (default), f16, bf16, q8_0")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}, CLI::ignore_case));
  try {
    app.parse(argc, argv);
    if (!is_gguf(out) && parse_ggml_type(type_name) != GGMLType::F32)
      throw CLI::ValidationError("--type " + type_name + " applies to a .gguf output; a model folder holds f32");
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "convert: " << e.what() << " (see --help)\n";
    return 2;
  }

  try {
    // ---- 2. read the model and its tokenizer (when there is one) ----
    std::optional<GPT<float>> model;
    std::optional<BPETokenizer> tokenizer;
    if (is_gguf(in)) {
      GGUFModel m = load_gguf(in);  // every weight back in f32, transposed back to GPT-2's (in, out)
      model.emplace(std::move(m.model));
      tokenizer = std::move(m.tokenizer);
    } else {
      model.emplace(load_model<float>(in));
      std::unique_ptr<Tokenizer> t;
      try {
        t = load_tokenizer(in);
      } catch (const FileError&) {
        // no tokenizer files in the folder: the model alone is converted
      }
      if (auto* bpe = dynamic_cast<BPETokenizer*>(t.get())) tokenizer = std::move(*bpe);
      else if (t) std::cerr << "note: the " << t->kind() << " tokenizer in " << in << " has no GGUF form; it is left out\n";
    }

    // ---- 3. write it ----
    if (is_gguf(out)) {
      // llama.cpp's gpt2 layout: projections stored (out, in), its names, its metadata.
      save_gguf(*model, tokenizer ? &*tokenizer : nullptr, out, parse_ggml_type(type_name));
    } else {
      save_model(*model, out);             // config.json + model.safetensors
      if (tokenizer) tokenizer->save(out);  // vocab.json + merges.txt
    }
    std::cout << "wrote " << out << ": " << model->parameter_count() << " parameters"
              << (is_gguf(out) ? ", weights " + type_name : std::string()) << ", "
              << (tokenizer ? "tokenizer of " + std::to_string(tokenizer->vocab_size()) + " tokens" : std::string("no tokenizer"))
              << "\n";
  } catch (const std::exception& e) {
    std::cerr << "convert: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
