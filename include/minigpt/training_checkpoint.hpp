// minigpt/training_checkpoint.hpp — saving pre-training (사전 학습) so it can stop and go on.
//
// Chapter idea: pre-training a GPT takes weeks, on machines that fail; it is saved every so
// often and resumed from the last save. What must be saved is more than the model: the
// optimiser's running averages, the step, and the state of every random generator, so that
// the resumed run continues exactly where the saved one stopped (here: bit for bit, the
// same losses as a run that was never interrupted).
//
// A training checkpoint is a folder:
//     config.json             } the model in the Hugging Face layout (checkpoint.hpp): load_model
//     model.safetensors       } and the generate example read these two files as they are
//     optimizer.safetensors   AdamW's moments, "m.<name>" and "v.<name>" for every tensor of the
//                             parameter table, same shapes; metadata: format, step
//     trainer_state.json      step, training options, the generators' states, fingerprints of
//                             the training data, the loss history (TrainerState below)
//     (anything the caller adds, e.g. the tokenizer's files)
//
// Saving never damages the previous checkpoint: the new folder is written next to it
// ("DIR.saving.<pid>"), every file flushed to disk, and then the two folders are swapped in
// one atomic rename (renameat2 RENAME_EXCHANGE) and the old one deleted. A full disk, a
// read-only folder or a crash before the swap leaves DIR exactly as it was. Because each save
// replaces the folder whole, the folder belongs to the trainer: saving refuses a folder that
// is neither empty nor a training checkpoint, so it never deletes files it did not write.
//
// Loading checks everything: a missing, truncated or misshapen optimizer file, moments that
// are not finite (or negative second moments), a step that disagrees with trainer_state.json:
// each is a FileError naming the file and the field.
//
// Shapes: m and v are flat buffers laid out by the parameter table, like the weights.
//
// Example (training.hpp does this for you):
//     save_optimizer_state(optimizer, "ckpt/optimizer.safetensors");
//     load_optimizer_state(optimizer, "ckpt/optimizer.safetensors");  // into an AdamW of the same config
#pragma once

#include "adamw.hpp"
#include "data_loader.hpp"
#include "detail/field_json.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "parameters.hpp"
#include "safetensors.hpp"
#include "train_options.hpp"
#include "training_history.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace minigpt {

// The format name written into optimizer.safetensors and trainer_state.json.
inline const char* training_checkpoint_format() { return "minigpt-training-checkpoint-1"; }

// ---- the optimiser's state ----

template <typename S>
void save_optimizer_state(const AdamW<S>& opt, const std::string& path) {
  std::vector<TensorToWrite<S>> tensors;
  for (const char* which : {"m", "v"}) {
    const Parameters<S>& buf = which[0] == 'm' ? opt.m() : opt.v();
    for (const TensorInfo& e : buf.table().entries())
      tensors.push_back({std::string(which) + "." + e.name, e.shape, buf.data() + e.offset});
  }
  save_safetensors<S>(path, tensors, {{"format", training_checkpoint_format()}, {"step", std::to_string(opt.steps())}});
}

// Fills opt (made for the same model config) from path. expected_step, when >= 0, must equal
// the step the file records. Every tensor of the table must be there, with its shape, and
// nothing else; m must be finite and v finite and >= 0.
template <typename S>
void load_optimizer_state(AdamW<S>& opt, const std::string& path, Index expected_step = -1) {
  SafetensorsReader file(path);
  const auto& meta = file.metadata();
  auto format = meta.find("format");
  if (format == meta.end() || format->second != training_checkpoint_format())
    throw FileError(path, "__metadata__.format",
                    std::string("is not '") + training_checkpoint_format() + "' (not a minigpt optimizer state)");
  auto step_text = meta.find("step");
  Index step = -1;
  if (step_text != meta.end() && !step_text->second.empty() && step_text->second.size() <= 18 &&
      step_text->second.find_first_not_of("0123456789") == std::string::npos)
    step = static_cast<Index>(std::stoll(step_text->second));
  if (step < 0) throw FileError(path, "__metadata__.step", "missing or not a non-negative integer");
  if (expected_step >= 0 && step != expected_step)
    throw FileError(path, "__metadata__.step", "says step " + std::to_string(step) + ", but trainer_state.json says " +
                                                   std::to_string(expected_step) +
                                                   " (the files come from different saves)");
  std::set<std::string> expected;
  for (const char* which : {"m", "v"}) {
    Parameters<S>& buf = which[0] == 'm' ? opt.m() : opt.v();
    for (const TensorInfo& e : buf.table().entries()) {
      const std::string name = std::string(which) + "." + e.name;
      expected.insert(name);
      const SafetensorsEntry* entry = file.find(name);
      if (entry == nullptr) throw FileError(path, "tensor '" + name + "'", "missing");
      if (entry->shape != e.shape)
        throw FileError(path, "tensor '" + name + "'",
                        "shape " + shape_text(entry->shape) + " in the file, the model needs " + shape_text(e.shape));
      S* dst = buf.data() + e.offset;
      file.read(*entry, dst);  // refuses NaN and infinities
      if (which[0] == 'v')
        for (Index i = 0; i < e.size; ++i)
          if (dst[i] < S(0))
            throw FileError(path, "tensor '" + name + "'",
                            "holds a negative second moment at index " + std::to_string(i));
    }
  }
  for (const auto& e : file.entries())
    if (!expected.count(e.name))
      throw FileError(path, "tensor '" + e.name + "'", "is not a moment of this model's parameters");
  opt.set_steps(step);
}

// ---- the trainer's state: trainer_state.json ----

// Which data a run was trained on: its length and a fingerprint (data_loader.hpp).
struct DataFingerprint {
  std::uint64_t tokens = 0, fingerprint = 0;
  static DataFingerprint of(const std::vector<TokenId>& t) { return {t.size(), token_fingerprint(t)}; }
};

// Everything of a run that is neither the model nor the optimiser.
struct TrainerState {
  Index step = 0;                        // optimiser steps done
  TrainOptions options;
  std::string data_rng, dropout_rng;     // the generators' states (random.hpp)
  DataFingerprint train, val;
  TrainingHistory history;
};

inline nlohmann::json trainer_state_to_json(const TrainerState& s) {
  nlohmann::json j;
  j["format"] = training_checkpoint_format();
  j["step"] = s.step;
  j["options"] = detail::fields_to_json(s.options);
  j["rng"] = {{"data", s.data_rng}, {"dropout", s.dropout_rng}};
  j["data"] = {{"train", {{"tokens", s.train.tokens}, {"fingerprint", s.train.fingerprint}}},
               {"val", {{"tokens", s.val.tokens}, {"fingerprint", s.val.fingerprint}}}};
  nlohmann::json evals = nlohmann::json::array();
  for (const EvalPoint& p : s.history.evals) evals.push_back({p.step, p.train_loss, p.val_loss});
  j["history"] = {{"train_loss", s.history.train_loss}, {"evals", evals}};
  return j;
}

// Reads trainer_state.json's content (path names it in errors). Every field is checked for
// its type; the options' ranges are the caller's to check (they depend on the model).
inline TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) throw FileError(path, "", "expected a JSON object");
  auto field = [&](const nlohmann::json& obj, const std::string& name) -> const nlohmann::json& {
    auto it = obj.find(name.substr(name.rfind('.') + 1));
    if (it == obj.end()) throw FileError(path, name, "missing");
    return *it;
  };
  TrainerState s;
  const nlohmann::json& format = field(j, "format");
  if (!format.is_string() || format.get<std::string>() != training_checkpoint_format())
    throw FileError(path, "format", std::string("is not '") + training_checkpoint_format() + "'");
  const nlohmann::json& step = field(j, "step");
  if (!step.is_number_unsigned()) throw FileError(path, "step", "must be a non-negative integer, got " + step.dump());
  s.step = step.get<Index>();
  detail::fields_from_json(s.options, field(j, "options"), path, "options.");
  const nlohmann::json& rng = field(j, "rng");
  if (!rng.is_object() || !field(rng, "rng.data").is_string() || !field(rng, "rng.dropout").is_string())
    throw FileError(path, "rng", "must hold the generator states 'data' and 'dropout' as strings");
  s.data_rng = rng["data"].get<std::string>();
  s.dropout_rng = rng["dropout"].get<std::string>();
  const nlohmann::json& data = field(j, "data");
  for (const char* split : {"train", "val"}) {
    const std::string where = std::string("data.") + split;
    auto it = data.is_object() ? data.find(split) : data.end();
    if (it == data.end() || !it->is_object() || !it->contains("tokens") || !it->contains("fingerprint") ||
        !(*it)["tokens"].is_number_unsigned() || !(*it)["fingerprint"].is_number_unsigned())
      throw FileError(path, where, "missing or malformed (expected tokens and fingerprint)");
    (split[0] == 't' ? s.train : s.val) = {(*it)["tokens"].get<std::uint64_t>(), (*it)["fingerprint"].get<std::uint64_t>()};
  }
  const nlohmann::json& hist = field(j, "history");
  const nlohmann::json& losses = field(hist, "history.train_loss");
  if (!losses.is_array() || static_cast<Index>(losses.size()) != s.step)
    throw FileError(path, "history.train_loss", "must hold one loss per step (" + std::to_string(s.step) + ")");
  for (const auto& l : losses) {
    if (!l.is_number()) throw FileError(path, "history.train_loss", "must hold numbers");
    s.history.train_loss.push_back(l.get<double>());
  }
  const nlohmann::json& evals = field(hist, "history.evals");
  if (!evals.is_array()) throw FileError(path, "history.evals", "must be an array");
  for (const auto& e : evals) {
    if (!e.is_array() || e.size() != 3 || !e[0].is_number_integer() || !e[1].is_number() || !e[2].is_number())
      throw FileError(path, "history.evals", "entries must be [step, train loss, val loss]");
    s.history.evals.push_back({e[0].get<Index>(), e[1].get<double>(), e[2].get<double>()});
  }
  return s;
}

// The data given to a resumed run must be the data the saved run was trained on.
inline void check_same_data(const DataFingerprint& saved, const std::vector<TokenId>& tokens, const std::string& path,
                            const std::string& split) {
  if (saved.tokens != tokens.size() || saved.fingerprint != token_fingerprint(tokens))
    throw FileError(path, "data." + split,
                    "the " + split + " data given (" + std::to_string(tokens.size()) +
                        " tokens) is not the data this run was trained on (" + std::to_string(saved.tokens) +
                        " tokens): resume with the same text and tokenizer");
}

namespace detail {

// Is dir a folder that a save may replace: missing, empty, or a training checkpoint?
inline bool replaceable_checkpoint_folder(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return true;
  if (!std::filesystem::is_directory(dir, ec)) return false;
  if (std::filesystem::is_empty(dir, ec)) return true;
  return std::filesystem::exists(std::filesystem::path(dir) / "trainer_state.json", ec);
}

// Writes a new folder through fill(staging_dir) and puts it in dir's place atomically: until
// the final swap, dir is untouched; if fill or any flush fails, the staging folder is removed
// and the error passed on.
inline void replace_folder_atomically(const std::string& dir, const std::function<void(const std::string&)>& fill) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (dir.empty()) throw ArgumentError("a checkpoint folder needs a name");
  if (!replaceable_checkpoint_folder(dir))
    throw FileError(dir, "", "exists and is not a training checkpoint: refusing to replace it (saving replaces the "
                             "whole folder; choose a new or empty folder)");
  std::string clean = dir;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  const fs::path parent = fs::path(clean).parent_path();
  if (!parent.empty()) make_directories(parent.string());
  const std::string staging = clean + ".saving." + std::to_string(::getpid());
  fs::remove_all(staging, ec);
  if (::mkdir(staging.c_str(), 0777) != 0)
    throw FileError(staging, "", "cannot create the folder to save into (" + errno_text(errno) +
                                     "); the previous checkpoint is untouched");
  try {
    fill(staging);
    fsync_directory(staging);
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
  auto fail = [&](const std::string& what) {
    const int err = errno;
    fs::remove_all(staging, ec);
    throw FileError(dir, "", what + " (" + errno_text(err) + "); the previous checkpoint is untouched");
  };
  if (!fs::exists(clean, ec)) {
    if (::rename(staging.c_str(), clean.c_str()) != 0) fail("cannot move the saved folder into place");
  } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, clean.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(staging, ec);  // now the previous checkpoint
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    // A filesystem without atomic exchange: two renames. A crash between them leaves the
    // previous checkpoint as DIR.old.<pid> and the new one complete as DIR.saving.<pid>.
    const std::string old = clean + ".old." + std::to_string(::getpid());
    fs::remove_all(old, ec);
    if (::rename(clean.c_str(), old.c_str()) != 0) fail("cannot move the previous checkpoint aside");
    if (::rename(staging.c_str(), clean.c_str()) != 0) {
      const int err = errno;
      (void)::rename(old.c_str(), clean.c_str());
      errno = err;
      fail("cannot move the saved folder into place");
    }
    fs::remove_all(old, ec);
  } else {
    fail("cannot swap the saved folder into place");
  }
  fsync_directory(parent.empty() ? "." : parent.string());
}

}  // namespace detail
}  // namespace minigpt
