// minigpt/checkpoint.hpp — loading and saving a model in the Hugging Face GPT-2 layout.
//
// Chapter idea: the pre-trained model (사전 학습 모델, PLM) is a file you can hand around.
// A folder holds:
//     config.json         the hyper-parameters (config.hpp)
//     model.safetensors   the parameters (safetensors.hpp), named as parameters.hpp lists
// This is the layout of the `gpt2` model on the Hugging Face hub, so its files load here,
// and a model saved here loads in Hugging Face `transformers`.
//
// Loading accepts F32, F16, BF16 (and F64) tensors, names with or without the
// `transformer.` prefix, and skips the `attn.bias` / `attn.masked_bias` buffers older
// exports carry. A `lm_head.weight` equal to `wte.weight` is the tied head written out; a
// different one makes the model untied and is used. A reward model's `score.weight` (Hugging
// Face's GPT2ForSequenceClassification head, reward_model.hpp) is not part of the language
// model and is skipped, so a reward folder loads as the GPT under its head. Everything else must match config.json
// exactly: a missing, misshapen, unknown or non-finite tensor is a FileError naming the file
// and the tensor.
//
// Saving writes F32 (F64 for double models). Both files are written to temporary files and
// flushed before either is renamed into place, so a full disk or a read-only folder leaves the
// previous model whole; a saved model loads back bit for bit.
//
// Example:
//     GPT<float> model = load_model<float>("gpt2");   // folder with config.json + model.safetensors
//     save_model(model, "my-gpt2");
#pragma once

#include "config_file.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "gpt.hpp"
#include "safetensors.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace minigpt {
namespace detail {

// "transformer.h.0.ln_1.weight" -> "h.0.ln_1.weight" (GPT2LMHeadModel's names, as exported).
inline std::string canonical_tensor_name(const std::string& name) {
  const std::string prefix = "transformer.";
  return name.compare(0, prefix.size(), prefix) == 0 ? name.substr(prefix.size()) : name;
}

// The causal-mask buffers some exports carry ("h.3.attn.bias", "h.3.attn.masked_bias"):
// constants, not parameters; minigpt's mask is attention.hpp's causal_mask().
inline bool is_attention_buffer(const std::string& name) {
  auto ends = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name.compare(0, 2, "h.") == 0 && (ends(".attn.bias") || ends(".attn.masked_bias"));
}

}  // namespace detail

template <typename S = float>
GPT<S> load_model(const std::string& dir) {
  if (!detail::is_directory(dir)) throw FileError(dir, "", "is not a folder (expected config.json and model.safetensors in it)");
  GPTConfig config = load_config(dir + "/config.json");
  const std::string path = dir + "/model.safetensors";
  SafetensorsReader file(path);

  // The file's names, prefix removed; buffers skipped.
  std::map<std::string, const SafetensorsEntry*> by_name;
  for (const auto& e : file.entries()) {
    const std::string name = detail::canonical_tensor_name(e.name);
    if (detail::is_attention_buffer(name) || name == "score.weight") continue;
    if (!by_name.emplace(name, &e).second)
      throw FileError(path, "tensor '" + e.name + "'", "appears twice (with and without the 'transformer.' prefix)");
  }

  // An exported head that differs from wte means an untied model.
  if (config.tie_word_embeddings && by_name.count("lm_head.weight") && by_name.count("wte.weight")) {
    const auto head = file.read<S>(by_name["lm_head.weight"]->name);
    const auto wte = file.read<S>(by_name["wte.weight"]->name);
    if (head == wte) by_name.erase("lm_head.weight");
    else config.tie_word_embeddings = false;
  }

  auto find = [&](const TensorInfo& info) -> const SafetensorsEntry& {
    auto it = by_name.find(info.name);
    if (it == by_name.end()) throw FileError(path, "tensor '" + info.name + "'", "missing");
    const SafetensorsEntry& e = *it->second;
    if (e.shape != info.shape)
      throw FileError(path, "tensor '" + e.name + "'", "shape " + shape_text(e.shape) + " in the file, but config.json (" +
                                                         dir + "/config.json) needs " + shape_text(info.shape));
    return e;
  };
  // Every tensor is found, with its shape, before the model is allocated: a config.json that
  // claims more than the file holds (n_layer 10^9, a vocabulary of 10^12) is refused by the
  // first tensor it lacks, never allocated. The walk is bounded by the file as well: it covers
  // at most one layer more than the file has tensors for (12 per layer), so when config.json
  // claims more layers, some tensor of that prefix is necessarily missing.
  {
    GPTConfig bounded = config;
    bounded.n_layer = std::min<Index>(config.n_layer, static_cast<Index>(by_name.size()) / 12 + 1);
    const ParameterTable table(bounded);
    for (const TensorInfo& info : table.entries()) (void)find(info);
  }

  GPT<S> model(config);
  Parameters<S>& p = model.parameters();
  std::set<std::string> used;
  for (const TensorInfo& info : p.table().entries()) {
    const SafetensorsEntry& e = find(info);
    file.read(e, p.data() + info.offset);
    used.insert(info.name);
  }
  for (const auto& kv : by_name)
    if (!used.count(kv.first))
      throw FileError(path, "tensor '" + kv.second->name + "'",
                      "is not part of the model config.json describes (n_layer " + std::to_string(config.n_layer) + ")");
  return model;
}

template <typename S>
void save_model(const GPT<S>& model, const std::string& dir) {
  model.config().validate(dir + "/config.json");
  detail::make_directories(dir);
  const Parameters<S>& p = model.parameters();
  std::vector<TensorToWrite<S>> tensors;
  for (const TensorInfo& info : p.table().entries()) tensors.push_back({info.name, info.shape, p.data() + info.offset});
  const SafetensorsFile<S> weights(tensors);
  const std::string config = config_to_json(model.config()).dump(2) + "\n";
  // Both files are written in full before either replaces its old copy.
  detail::write_files_atomic({{dir + "/model.safetensors", weights.pieces()},
                              {dir + "/config.json", {{config.data(), config.size()}}}});
}

}  // namespace minigpt
