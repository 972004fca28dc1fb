// minigpt/char_tokenizer.hpp — 토큰 = 글자: the simplest tokenizer, one id per character.
//
// Chapter idea: 토큰. Before BPE, the plainest choice: every distinct character of a text is
// a token, numbered in code point order. Tiny Shakespeare has 65 of them, so V = 65 — a model
// small enough to train in minutes (nanoGPT's shakespeare_char), at the price of long
// sequences: one id per letter instead of one per word.
//
//   In:  text (UTF-8; bytes that are not valid UTF-8 count as one-byte "characters").
//   Out: one id per character, in [0, V); and back.
//
// Example:
//   auto tok = CharTokenizer::from_text("hello");   // vocabulary: e h l o -> ids 0 1 2 3
//   tok.encode("hole")                              // {1, 3, 2, 0}
//   tok.decode({1, 0, 2, 2, 3})                     // "hello"
//   tok.encode("help")                              // ArgumentError: 'p' is not in it
//
// File: save(dir) writes dir/char_vocab.json, readable by any JSON reader:
//   {"type": "char", "vocab_size": 65, "chars": ["\n", " ", "!", ...]}
// chars[i] is the character of id i: a string holding exactly one character. A raw byte that
// was not valid UTF-8 is stored as its number (128..255) instead of a string.
#pragma once

#include "detail/io.hpp"
#include "error.hpp"
#include "token_id.hpp"
#include "tokenizer.hpp"
#include "unicode.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace minigpt {

class CharTokenizer : public Tokenizer {
 public:
  // The distinct characters of text, in code point order (raw invalid bytes last).
  static CharTokenizer from_text(std::string_view text) {
    std::vector<std::uint32_t> keys;
    std::array<bool, 128> ascii{};
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    std::vector<std::uint32_t> other;
    while (p < end) {
      if (*p < 0x80) {
        ascii[*p] = true;
        ++p;
        continue;
      }
      const Utf8Char c = decode_utf8(p, end);
      other.push_back(key_of(c, *p));
      p += c.length;
    }
    for (std::uint32_t b = 0; b < 128; ++b)
      if (ascii[b]) keys.push_back(b);
    std::sort(other.begin(), other.end());
    other.erase(std::unique(other.begin(), other.end()), other.end());
    keys.insert(keys.end(), other.begin(), other.end());
    if (keys.empty()) throw ArgumentError("CharTokenizer::from_text: the text is empty, so there are no characters to number");
    return CharTokenizer(keys, "CharTokenizer::from_text");
  }

  // Reads dir/char_vocab.json (or the file itself when given a path to it).
  static CharTokenizer load(const std::string& path) {
    const nlohmann::json j = detail::read_json_file(path, std::size_t(64) << 20);
    if (!j.is_object()) throw FileError(path, "json", "expected an object");
    if (!j.contains("type") || j["type"] != "char")
      throw FileError(path, "type", "expected \"char\"");
    if (!j.contains("chars") || !j["chars"].is_array()) throw FileError(path, "chars", "expected an array");
    const auto& chars = j["chars"];
    std::vector<std::uint32_t> keys;
    keys.reserve(chars.size());
    for (std::size_t i = 0; i < chars.size(); ++i) {
      const auto& c = chars[i];
      const std::string field = "chars[" + std::to_string(i) + "]";
      if (c.is_number_unsigned() && c.get<std::uint64_t>() >= 0x80 && c.get<std::uint64_t>() <= 0xFF) {
        keys.push_back(kRawByte + static_cast<std::uint32_t>(c.get<std::uint64_t>()));
        continue;
      }
      if (!c.is_string())
        throw FileError(path, field, "expected a one-character string or a byte 128..255, got " + c.dump());
      const std::string& s = c.get_ref<const std::string&>();
      const Utf8Char u = s.empty() ? Utf8Char{} : decode_utf8(s);
      if (s.empty() || !u.valid || u.length != s.size())
        throw FileError(path, field, "expected exactly one character, got " + c.dump());
      keys.push_back(static_cast<std::uint32_t>(u.code_point));
    }
    if (keys.empty()) throw FileError(path, "chars", "is empty: a vocabulary needs at least one character");
    if (j.contains("vocab_size") &&
        !(j["vocab_size"].is_number_unsigned() && j["vocab_size"].get<std::uint64_t>() == keys.size()))
      throw FileError(path, "vocab_size", j["vocab_size"].dump() + " disagrees with the " +
                                              std::to_string(keys.size()) + " entries of chars");
    return CharTokenizer(keys, path);
  }

  // ---- Tokenizer ----
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> out;
    out.reserve(text.size());
    const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = begin + text.size();
    const auto* p = begin;
    while (p < end) {
      TokenId id = -1;
      std::size_t len = 1;
      if (*p < 0x80) {
        id = ascii_[*p];
      } else {
        const Utf8Char c = decode_utf8(p, end);
        len = c.length;
        const auto it = id_of_.find(key_of(c, *p));
        if (it != id_of_.end()) id = it->second;
      }
      if (id < 0) {
        const std::string_view ch = text.substr(static_cast<std::size_t>(p - begin), len);
        throw ArgumentError("character '" + escape_bytes(ch) + "' at byte " + std::to_string(p - begin) +
                            " is not in this character-level vocabulary of " +
                            std::to_string(vocab_size()) + " characters");
      }
      out.push_back(id);
      p += len;
    }
    return out;
  }
  std::vector<TokenId> encode_with_special(std::string_view text) const override { return encode(text); }
  Index vocab_size() const override { return static_cast<Index>(chars_.size()); }
  std::string token_bytes(TokenId id) const override {
    if (id < 0 || static_cast<Index>(id) >= vocab_size()) throw id_out_of_range(id, vocab_size());
    return chars_[static_cast<std::size_t>(id)];
  }
  std::vector<std::pair<std::string, TokenId>> special_tokens() const override { return {}; }
  std::string kind() const override { return "char"; }

  void save(const std::string& dir) const override {
    detail::make_directories(dir);
    std::string out = "{\"type\": \"char\", \"vocab_size\": " + std::to_string(chars_.size()) + ", \"chars\": [";
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (i > 0) out += ", ";
      if (keys_[i] >= kRawByte)
        out += std::to_string(keys_[i] - kRawByte);
      else
        out += nlohmann::json(chars_[i]).dump();
    }
    out += "]}\n";
    detail::write_file_atomic(dir + "/char_vocab.json", out);
  }

 private:
  // A character's key: its code point, or kRawByte + b for a raw invalid byte b.
  static constexpr std::uint32_t kRawByte = 0x110000;
  static std::uint32_t key_of(const Utf8Char& c, unsigned char first_byte) {
    return c.valid ? static_cast<std::uint32_t>(c.code_point) : kRawByte + first_byte;
  }

  CharTokenizer(const std::vector<std::uint32_t>& keys, const std::string& where) : keys_(keys) {
    ascii_.fill(-1);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::uint32_t k = keys[i];
      const auto id = static_cast<TokenId>(i);
      if (!id_of_.emplace(k, id).second)
        throw FileError(where, "chars[" + std::to_string(i) + "]", "the same character appears twice");
      chars_.push_back(k >= kRawByte ? std::string(1, static_cast<char>(k - kRawByte))
                                     : encode_utf8(static_cast<char32_t>(k)));
      if (k < 128) ascii_[k] = id;
    }
  }

  std::vector<std::uint32_t> keys_;   // id -> key
  std::vector<std::string> chars_;    // id -> bytes
  std::unordered_map<std::uint32_t, TokenId> id_of_;
  std::array<TokenId, 128> ascii_{};
};

}  // namespace minigpt
