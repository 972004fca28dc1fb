// minigpt/config_file.hpp — a model's hyper-parameters as a Hugging Face `config.json`.
//
// Chapter idea: the handful of numbers that fix a GPT's size (config.hpp) travel with its
// parameters as a small JSON file, the one Hugging Face's GPT-2 models carry:
//
//     {"model_type": "gpt2", "n_layer": 12, "n_head": 12, "n_embd": 768,
//      "n_positions": 1024, "vocab_size": 50257, "layer_norm_epsilon": 1e-05, ...}
//
// Every field is read through GPTConfig's one field table (detail/field_json.hpp), then the
// whole is validated; a bad file is a FileError naming the file and the field. Variants of
// GPT-2 that minigpt does not implement (another feed-forward width, unscaled attention) are
// refused rather than misread.
//
// Shapes in: none.  Shapes out: none.
//
// Example:
//     GPTConfig c = load_config("gpt2/config.json");   // c.n_embd == 768
//     save_config(c, "copy/config.json");               // written atomically
#pragma once

#include "config.hpp"
#include "detail/field_json.hpp"
#include "detail/io.hpp"
#include "error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace minigpt {

// Reads a Hugging Face GPT-2 config (a JSON object). `where` names the source in errors.
inline GPTConfig config_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw FileError(where, "", "expected a JSON object");
  GPTConfig c;
  detail::fields_from_json(c, j, where);
  if (auto it = j.find("n_inner"); it != j.end() && !it->is_null() &&
                                   !(it->is_number_integer() && it->get<std::int64_t>() == 4 * c.n_embd))
    throw FileError(where, "n_inner", "only the standard feed-forward width 4 * n_embd is supported, got " + it->dump());
  if (auto it = j.find("scale_attn_weights"); it != j.end() && *it != true)
    throw FileError(where, "scale_attn_weights", "only scaled attention (true) is supported");
  if (auto it = j.find("scale_attn_by_inverse_layer_idx"); it != j.end() && *it != false)
    throw FileError(where, "scale_attn_by_inverse_layer_idx", "is not supported (must be false)");
  c.validate(where);
  return c;
}

// The config.json of a GPT2LMHeadModel, or of another GPT-2 architecture (the reward model's
// GPT2ForSequenceClassification); n_ctx repeats n_positions, for older readers.
inline nlohmann::json config_to_json(const GPTConfig& c, const char* architecture = "GPT2LMHeadModel") {
  nlohmann::json j = detail::fields_to_json(c);
  j["model_type"] = "gpt2";
  j["architectures"] = nlohmann::json::array({architecture});
  j["n_ctx"] = c.n_positions;
  return j;
}

inline GPTConfig load_config(const std::string& path) {
  return config_from_json(detail::read_json_file(path, std::size_t(64) << 20), path);
}

inline void save_config(const GPTConfig& c, const std::string& path) {
  c.validate(path);
  detail::write_file_atomic(path, config_to_json(c).dump(2) + "\n");
}

}  // namespace minigpt
