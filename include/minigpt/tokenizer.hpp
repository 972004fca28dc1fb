// minigpt/tokenizer.hpp — 토크나이저: what every tokenizer promises.
//
// Chapter idea: 토크나이저 (tokenizer). A language model never sees letters. It sees token
// ids, whole numbers below the vocabulary size V, and it answers with the id of the next
// token. The tokenizer is the two-way dictionary between text and those ids:
//
//   encode: bytes -> ids        "토큰 ≠ 단어" -> [169, 228, 254, 169, 223, 108, ...]
//   decode: ids   -> bytes      exactly the bytes that were encoded
//
//   In:  text as bytes (std::string_view; any bytes for byte-level BPE), or ids.
//   Out: ids (std::vector<TokenId>, each in [0, V)), or bytes (std::string).
//
// Two kinds implement this interface:
//   BPETokenizer  (bpe_tokenizer.hpp)   GPT-2's byte-level BPE, exact ids, 50,257 tokens
//   CharTokenizer (char_tokenizer.hpp)  one id per character, for tiny experiments
// load_tokenizer() (load_tokenizer.hpp) opens whichever a folder holds.
//
// Example:
//   auto tok = load_tokenizer("tests/data/gpt2");        // encoder.json + vocab.bpe
//   std::vector<TokenId> ids = tok->encode("Hello world"); // {15496, 995}
//   std::string back = tok->decode(ids);                   // "Hello world"
//   tok->encode("<|endoftext|>").size();                   // 6: special tokens are text here
//   tok->encode_with_special("<|endoftext|>");             // {50256}
//
// Decoding joins the bytes of all ids and returns them as they are: a token that ends in the
// middle of a UTF-8 character gives its raw bytes, never U+FFFD. An id outside [0, V) is an
// ArgumentError that names the id.
#pragma once

#include "error.hpp"
#include "token_id.hpp"

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minigpt {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text -> ids. Special tokens such as "<|endoftext|>" are treated as ordinary text.
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;

  // Text -> ids, where each occurrence of a special token's text becomes its single id.
  virtual std::vector<TokenId> encode_with_special(std::string_view text) const = 0;

  // Ids -> bytes: the bytes of each token, joined. Throws ArgumentError for an id not in [0, V).
  virtual std::string decode(const std::vector<TokenId>& ids) const {
    check_token_ids(ids, vocab_size(), "decode");
    std::string out;
    for (TokenId id : ids) out += token_bytes(id);
    return out;
  }

  // V: ids run from 0 to V - 1.
  virtual Index vocab_size() const = 0;

  // The bytes one token stands for. Throws ArgumentError for an id not in [0, V).
  virtual std::string token_bytes(TokenId id) const = 0;

  // Special tokens (text that encode_with_special turns into one id), in id order.
  virtual std::vector<std::pair<std::string, TokenId>> special_tokens() const = 0;

  // The id of a special token, e.g. special_token("<|endoftext|>") -> 50256 for GPT-2.
  std::optional<TokenId> special_token(std::string_view text) const {
    for (const auto& [s, id] : special_tokens())
      if (s == text) return id;
    return std::nullopt;
  }

  // Writes this tokenizer's files into folder dir (created if needed), each atomically;
  // load_tokenizer(dir) reads them back.
  virtual void save(const std::string& dir) const = 0;

  // "bpe" or "char": what kind of tokenizer this is.
  virtual std::string kind() const = 0;

  // Many documents at once: with OpenMP, documents are shared out among all threads.
  std::vector<std::vector<TokenId>> encode_batch(const std::vector<std::string>& docs) const {
    std::vector<std::vector<TokenId>> out(docs.size());
    std::vector<std::exception_ptr> failed(docs.size());  // exceptions may not leave a thread
    const auto n = static_cast<std::ptrdiff_t>(docs.size());
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (std::ptrdiff_t i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(i);
      try {
        out[k] = encode(docs[k]);
      } catch (...) {
        failed[k] = std::current_exception();
      }
    }
    for (const auto& e : failed)
      if (e) std::rethrow_exception(e);
    return out;
  }

 protected:
  // The error for an id outside [0, V) (token_id.hpp's one message).
  static ArgumentError id_out_of_range(TokenId id, Index vocab_size) { return token_id_error("", id, "", vocab_size); }
};

// Token ids written as text, "15496 995" -> {15496, 995}: what the programs read from a
// flag or standard input. Anything that is not a whole number from 0 to 2^31 - 1 is an
// ArgumentError naming it and `where` it came from. (Whether an id is in a vocabulary is the
// tokenizer's or the model's check.)
inline std::vector<TokenId> parse_token_ids(std::string_view text, const std::string& where) {
  std::vector<TokenId> ids;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < text.size() && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    if (start == i) break;
    const std::string_view word = text.substr(start, i - start);
    long long id = 0;
    bool ok = word.size() <= 10;
    for (char c : word) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) id = id * 10 + (c - '0');
    }
    if (!ok || id > 2147483647LL)
      throw ArgumentError(where + ": '" + std::string(word) + "' is not a token id (a whole number >= 0)");
    ids.push_back(static_cast<TokenId>(id));
  }
  return ids;
}

}  // namespace minigpt
