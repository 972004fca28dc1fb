// minigpt/jsonl.hpp — the recipe's data files: one JSON object per line (JSON Lines).
//
// Chapter idea: after pre-training (사전 학습), the steps that turn a text continuer into an
// assistant learn from examples a person wrote or ranked: demonstrations for supervised
// fine-tuning (SFT, 지도 미세 조정) and comparisons for the reward model (보상 모델). They are
// kept as JSON Lines with the field names of Hugging Face's TRL, so the same files load in
// TRL's SFTTrainer and RewardTrainer unchanged:
//
//   sft.jsonl           {"prompt": "Q: Where does Mina Park live?\nA:", "completion": " Busan\n"}
//   preferences.jsonl   {"prompt": "...", "chosen": " Busan\n", "rejected": " Jeju\n"}
//   eval.jsonl          {"prompt": "...", "answer": "Busan", "person": "Mina Park", "mentions": 12}
//                       (arithmetic rows have neither "person" nor "mentions")
//
// Reading checks every row and refuses the first bad one with a JsonlError (a FileError) that
// names the file, the line (1-based) and the field:
//
//   data/sft.jsonl: line 7, "completion": is empty
//
// The checks, in this order, for each line (blank lines are skipped; a '\r' before the '\n' is
// dropped):
//   1. the bytes are valid UTF-8 (unicode.hpp); the error names the field holding the bad byte
//      when it lies inside a string value;
//   2. the line is one well-formed JSON object;
//   3. each required field is present and a string ("mentions": an integer >= 0); optional
//      fields ("person", "mentions") are absent, null or of the right type; other fields are
//      ignored, as TRL ignores extra columns;
//   4. no string field is empty; "chosen" differs from "rejected"; a row with "person" has
//      "mentions" and one without has none;
//   5. with JsonlLimits{tokenizer, block_size}: every field encodes with the tokenizer (a
//      character-level vocabulary may lack a character), and the sequence fits the model:
//      tokens(prompt) < block_size, and tokens(prompt) + tokens(completion) <= block_size (for
//      "chosen" and "rejected" alike; for eval rows the completion is " <answer>\n").
//      Prompt and completion are encoded separately and their ids joined, which is how the
//      recipe builds its sequences. A file without any row is refused too.
//
// Writing (write_*_jsonl) produces exactly these lines, keys in the order above, UTF-8 as is
// (not \u-escaped), atomically (detail/io.hpp): the new file complete, or the old one untouched.
//
// Shapes in: a file.  Shapes out: vectors of rows.
#pragma once

#include "detail/io.hpp"
#include "error.hpp"
#include "tensor.hpp"
#include "tokenizer.hpp"
#include "unicode.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minigpt {

// One demonstration: the prompt and the answer a person wrote for it (TRL's prompt-completion).
struct SFTExample {
  std::string prompt, completion;
  bool operator==(const SFTExample& o) const { return prompt == o.prompt && completion == o.completion; }
};

// One comparison: for the same prompt, `chosen` was ranked above `rejected` (TRL's preference).
struct PreferencePair {
  std::string prompt, chosen, rejected;
  bool operator==(const PreferencePair& o) const {
    return prompt == o.prompt && chosen == o.chosen && rejected == o.rejected;
  }
};

// One held-out question: the prompt, the right answer (without the leading space and the
// newline of a completion), and for questions about a person, who, and how many times the
// pre-training text names them (0: never). Arithmetic: person empty, mentions -1.
struct EvalExample {
  std::string prompt, answer, person;
  Index mentions = -1;
  bool operator==(const EvalExample& o) const {
    return prompt == o.prompt && answer == o.answer && person == o.person && mentions == o.mentions;
  }
};

// Optional checks against a model: every field must encode, and sequences must fit the block.
struct JsonlLimits {
  const Tokenizer* tokenizer = nullptr;  // null: no token checks
  Index block_size = 0;                  // the model's n_positions; 0: no length check
};

// A bad row: a FileError whose where() is the file, with the line (1-based) and the key at
// fault (empty when the whole line is at fault, e.g. malformed JSON).
class JsonlError : public FileError {
 public:
  JsonlError(const std::string& path, Index line, const std::string& key, const std::string& what)
      : FileError(path, "line " + std::to_string(line) + (key.empty() ? "" : ", \"" + key + "\""), what),
        line_(line),
        key_(key) {}
  Index line() const { return line_; }
  const std::string& key() const { return key_; }

 private:
  Index line_;
  std::string key_;
};

namespace detail {

// The completion an eval row's answer stands for, as the chat format writes it.
inline std::string completion_of_answer(const std::string& answer) { return " " + answer + "\n"; }

// One JSONL text, cut into its non-blank lines; calls row(line_number, object) for each.
// `path` only names the source in errors.
template <typename F>
void for_each_jsonl_row(std::string_view text, const std::string& path, F&& row) {
  Index line_no = 0, rows = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank
    // 1. UTF-8, before the JSON parser sees the bytes.
    std::size_t bad = 0;
    bool invalid = false;
    for (std::size_t i = 0; i < line.size();) {
      const Utf8Char c = decode_utf8(line, i);
      if (!c.valid) {
        bad = i;
        invalid = true;
        break;
      }
      i += c.length;
    }
    if (invalid) {
      // Which string holds it: replace each bad byte by a marker and look for the marker.
      static const std::string marker = encode_utf8(0xFDD0);  // a noncharacter
      std::string repaired;
      for (std::size_t i = 0; i < line.size();) {
        const Utf8Char c = decode_utf8(line, i);
        repaired += c.valid ? std::string(line.substr(i, c.length)) : marker;
        i += c.length;
      }
      std::string key;
      try {
        const nlohmann::json j = nlohmann::json::parse(repaired);
        if (j.is_object())
          for (auto it = j.begin(); it != j.end(); ++it)
            if (it.value().is_string() && it.value().get_ref<const std::string&>().find(marker) != std::string::npos) {
              key = it.key();
              break;
            }
      } catch (const nlohmann::json::exception&) {
      }
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(line[bad])));
      throw JsonlError(path, line_no, key,
                       std::string("invalid UTF-8: byte ") + hex + " at byte " + std::to_string(bad) + " of the line");
    }
    // 2. one JSON object.
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw JsonlError(path, line_no, "", std::string("malformed JSON: ") + e.what());
    }
    if (!j.is_object()) throw JsonlError(path, line_no, "", "expected a JSON object {...}, got " + std::string(j.type_name()));
    row(line_no, j);
    ++rows;
  }
  if (rows == 0) throw FileError(path, "", "no rows: the file holds no JSON object");
}

// A required, non-empty string field.
inline std::string jsonl_string(const nlohmann::json& j, const char* key, const std::string& path, Index line) {
  const auto it = j.find(key);
  if (it == j.end()) throw JsonlError(path, line, key, "missing field");
  if (!it->is_string())
    throw JsonlError(path, line, key, std::string("expected a string, got ") + it->type_name());
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty()) throw JsonlError(path, line, key, "is empty");
  return s;
}

// Token counts against the limits: tokens(prompt) < block, tokens(prompt) + tokens(rest) <= block.
class JsonlLengthCheck {
 public:
  JsonlLengthCheck(const JsonlLimits& limits, const std::string& path) : limits_(limits), path_(path) {
    if (limits.block_size < 0) throw ArgumentError("JsonlLimits: block_size must be >= 0");
  }

  Index count(const std::string& text, const char* key, Index line) const {
    if (limits_.tokenizer == nullptr) return static_cast<Index>(text.size());
    try {
      return static_cast<Index>(limits_.tokenizer->encode(text).size());
    } catch (const Error& e) {
      throw JsonlError(path_, line, key, std::string("cannot be tokenized: ") + e.what());
    }
  }

  // Checks the prompt alone; returns its token count (0 when there is nothing to check).
  Index prompt(const std::string& text, Index line) const {
    if (limits_.tokenizer == nullptr) return 0;
    const Index n = count(text, "prompt", line);
    if (limits_.block_size > 0 && n >= limits_.block_size)
      throw JsonlError(path_, line, "prompt",
                       "is " + std::to_string(n) + " tokens, past the block size " + std::to_string(limits_.block_size) +
                           " (a prompt must leave room for at least one answer token)");
    return n;
  }

  void completion(Index prompt_tokens, const std::string& text, const char* key, Index line) const {
    if (limits_.tokenizer == nullptr) return;
    const Index n = count(text, key, line);
    if (limits_.block_size > 0 && prompt_tokens + n > limits_.block_size)
      throw JsonlError(path_, line, key,
                       "prompt and " + std::string(key) + " are " + std::to_string(prompt_tokens) + " + " +
                           std::to_string(n) + " tokens, past the block size " + std::to_string(limits_.block_size));
  }

 private:
  JsonlLimits limits_;
  std::string path_;
};

// The lines of a JSONL file from its rows; every string must be valid UTF-8.
template <typename Row, typename ToJson>
std::string jsonl_text(const std::vector<Row>& rows, const std::string& path, ToJson&& to_json) {
  std::string out;
  Index i = 0;
  for (const Row& r : rows) {
    ++i;
    const nlohmann::ordered_json j = to_json(r);
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.value().is_string() && !is_valid_utf8(it.value().template get_ref<const std::string&>()))
        throw ArgumentError(path + ": row " + std::to_string(i) + ", \"" + it.key() + "\": invalid UTF-8, not written");
    out += j.dump();
    out += '\n';
  }
  return out;
}

}  // namespace detail

// ---- reading: from text (name used in errors) or from a file ----

inline std::vector<SFTExample> parse_sft_jsonl(std::string_view text, const std::string& name,
                                               const JsonlLimits& limits = {}) {
  const detail::JsonlLengthCheck check(limits, name);
  std::vector<SFTExample> rows;
  detail::for_each_jsonl_row(text, name, [&](Index line, const nlohmann::json& j) {
    SFTExample r{detail::jsonl_string(j, "prompt", name, line), detail::jsonl_string(j, "completion", name, line)};
    check.completion(check.prompt(r.prompt, line), r.completion, "completion", line);
    rows.push_back(std::move(r));
  });
  return rows;
}

inline std::vector<PreferencePair> parse_preferences_jsonl(std::string_view text, const std::string& name,
                                                           const JsonlLimits& limits = {}) {
  const detail::JsonlLengthCheck check(limits, name);
  std::vector<PreferencePair> rows;
  detail::for_each_jsonl_row(text, name, [&](Index line, const nlohmann::json& j) {
    PreferencePair r{detail::jsonl_string(j, "prompt", name, line), detail::jsonl_string(j, "chosen", name, line),
                     detail::jsonl_string(j, "rejected", name, line)};
    if (r.chosen == r.rejected) throw JsonlError(name, line, "rejected", "is the same text as \"chosen\"");
    const Index p = check.prompt(r.prompt, line);
    check.completion(p, r.chosen, "chosen", line);
    check.completion(p, r.rejected, "rejected", line);
    rows.push_back(std::move(r));
  });
  return rows;
}

inline std::vector<EvalExample> parse_eval_jsonl(std::string_view text, const std::string& name,
                                                 const JsonlLimits& limits = {}) {
  const detail::JsonlLengthCheck check(limits, name);
  std::vector<EvalExample> rows;
  detail::for_each_jsonl_row(text, name, [&](Index line, const nlohmann::json& j) {
    EvalExample r;
    r.prompt = detail::jsonl_string(j, "prompt", name, line);
    r.answer = detail::jsonl_string(j, "answer", name, line);
    const auto person = j.find("person"), mentions = j.find("mentions");
    const bool has_person = person != j.end() && !person->is_null();
    const bool has_mentions = mentions != j.end() && !mentions->is_null();
    if (has_person) {
      r.person = detail::jsonl_string(j, "person", name, line);
      if (!has_mentions) throw JsonlError(name, line, "mentions", "missing field (a row with \"person\" needs it)");
    } else if (has_mentions) {
      throw JsonlError(name, line, "person", "missing field (a row with \"mentions\" needs it)");
    }
    if (has_mentions) {
      if (!mentions->is_number_integer())
        throw JsonlError(name, line, "mentions", std::string("expected an integer, got ") + mentions->type_name() +
                                                     (mentions->is_number() ? " (not a whole number)" : ""));
      if (mentions->is_number_unsigned()) {
        const auto v = mentions->get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(INT64_MAX)) throw JsonlError(name, line, "mentions", "is too large");
        r.mentions = static_cast<Index>(v);
      } else {
        r.mentions = mentions->get<std::int64_t>();
        if (r.mentions < 0) throw JsonlError(name, line, "mentions", "must be >= 0, got " + std::to_string(r.mentions));
      }
    }
    check.completion(check.prompt(r.prompt, line), detail::completion_of_answer(r.answer), "answer", line);
    rows.push_back(std::move(r));
  });
  return rows;
}

inline std::vector<SFTExample> read_sft_jsonl(const std::string& path, const JsonlLimits& limits = {}) {
  return parse_sft_jsonl(detail::read_file(path, std::size_t(1) << 30), path, limits);
}
inline std::vector<PreferencePair> read_preferences_jsonl(const std::string& path, const JsonlLimits& limits = {}) {
  return parse_preferences_jsonl(detail::read_file(path, std::size_t(1) << 30), path, limits);
}
inline std::vector<EvalExample> read_eval_jsonl(const std::string& path, const JsonlLimits& limits = {}) {
  return parse_eval_jsonl(detail::read_file(path, std::size_t(1) << 30), path, limits);
}

// ---- writing: the lines as text, and atomically to a file ----

inline std::string sft_jsonl_text(const std::vector<SFTExample>& rows, const std::string& name = "sft.jsonl") {
  return detail::jsonl_text(rows, name, [](const SFTExample& r) {
    return nlohmann::ordered_json{{"prompt", r.prompt}, {"completion", r.completion}};
  });
}
inline std::string preferences_jsonl_text(const std::vector<PreferencePair>& rows,
                                          const std::string& name = "preferences.jsonl") {
  return detail::jsonl_text(rows, name, [](const PreferencePair& r) {
    return nlohmann::ordered_json{{"prompt", r.prompt}, {"chosen", r.chosen}, {"rejected", r.rejected}};
  });
}
inline std::string eval_jsonl_text(const std::vector<EvalExample>& rows, const std::string& name = "eval.jsonl") {
  return detail::jsonl_text(rows, name, [](const EvalExample& r) {
    nlohmann::ordered_json j{{"prompt", r.prompt}, {"answer", r.answer}};
    if (!r.person.empty()) {
      j["person"] = r.person;
      j["mentions"] = r.mentions;
    }
    return j;
  });
}

inline void write_sft_jsonl(const std::string& path, const std::vector<SFTExample>& rows) {
  detail::write_file_atomic(path, sft_jsonl_text(rows, path));
}
inline void write_preferences_jsonl(const std::string& path, const std::vector<PreferencePair>& rows) {
  detail::write_file_atomic(path, preferences_jsonl_text(rows, path));
}
inline void write_eval_jsonl(const std::string& path, const std::vector<EvalExample>& rows) {
  for (const EvalExample& r : rows)
    if (!r.person.empty() && r.mentions < 0)
      throw ArgumentError(path + ": \"" + r.person + "\": mentions must be >= 0 for a row with a person");
  detail::write_file_atomic(path, eval_jsonl_text(rows, path));
}

}  // namespace minigpt
