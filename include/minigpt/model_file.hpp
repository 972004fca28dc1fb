// minigpt/model_file.hpp — a model from disk, whichever way it was saved.
//
// Chapter idea: a trained model is its parameters plus the tokenizer it was trained with. Two
// ways of keeping them are common, and a program that runs models should take either:
//
//     a folder (Hugging Face's layout)  config.json + model.safetensors (checkpoint.hpp), and
//                                       the tokenizer's files (load_tokenizer.hpp), if any
//     a .gguf file (llama.cpp's)        all of it in one file (gguf.hpp), its weight matrices in
//                                       F32, F16, BF16 or Q8_0
//
// load_model_file() opens either and sets the model to run in the weight format asked for, or
// by default in the one it was stored in (weight_format.hpp): a Q8_0 file runs in Q8_0, a BF16
// file in bf16, F32 and F16 files and folders in f32.
//
// Example:
//     ModelFile m = load_model_file("gpt2-q8_0.gguf");   // m.model runs Q8_0 weights
//     ModelFile f = load_model_file("gpt2", WeightFormat::bf16);
//     if (m.tokenizer) std::puts(m.tokenizer->decode({464, 2068}).c_str());
#pragma once

#include "checkpoint.hpp"
#include "error.hpp"
#include "gguf.hpp"
#include "gpt.hpp"
#include "load_tokenizer.hpp"
#include "tokenizer.hpp"
#include "weight_format.hpp"

#include <memory>
#include <optional>
#include <string>

namespace minigpt {

struct ModelFile {
  GPT<float> model;
  std::unique_ptr<Tokenizer> tokenizer;         // null when the folder or file holds none
  WeightFormat stored = WeightFormat::f32;      // how the file keeps its weight matrices
};

// A path ending in ".gguf" is a GGUF file; anything else is a model folder.
inline bool is_gguf_path(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

// The model (and its tokenizer) in `path`, running in `run_as`, or as stored.
inline ModelFile load_model_file(const std::string& path, std::optional<WeightFormat> run_as = std::nullopt) {
  ModelFile m{GPT<float>(GPTConfig::make(1, 1, 1, 1, 1)), nullptr, WeightFormat::f32};
  if (is_gguf_path(path)) {
    GGUFModel g = load_gguf(path);
    m.model = std::move(g.model);
    if (g.tokenizer) m.tokenizer = std::make_unique<BPETokenizer>(std::move(*g.tokenizer));
    m.stored = g.format;
  } else {
    m.model = load_model<float>(path);
    const std::string base = path.empty() || path.back() == '/' ? path : path + "/";
    for (const char* file : {"char_vocab.json", "vocab.json", "encoder.json"})  // a tokenizer's files, if any
      if (detail::file_exists(base + file)) {
        m.tokenizer = load_tokenizer(path);  // a broken one is an error, not silence
        break;
      }
  }
  m.model.set_weight_format(run_as.value_or(m.stored));
  return m;
}

}  // namespace minigpt
