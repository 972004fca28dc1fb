// minigpt/bpe_educational.hpp — GPT-2's byte-level BPE, written to be read.
//
// Chapter idea: 토큰 (tokens). GPT-2 does not read letters or words but tokens: pieces of
// text found by byte-pair encoding (BPE). Training a BPE (bpe_trainer.hpp) merged, again and
// again, the pair of neighbouring symbols seen most often, and wrote each merge down in order;
// encoding replays that list on new text. This header is the textbook version of encoding,
// as OpenAI's encoder.py does it, on strings: slow (quadratic in a piece, a map look-up per
// pair) and plainly right. bpe_tokenizer.hpp is the fast engine; a test and a fuzzer check
// that the two give the same ids on every input (as tiktoken keeps its _educational.py
// beside its fast engine).
//
//   1. cut the text into pieces (pretokenizer.hpp): " tokens", "!", ...
//   2. spell each byte of a piece as one printable character of GPT-2's byte alphabet: the
//      printable bytes stand for themselves, the others get characters from U+0100 on (so a
//      space is "Ġ", U+0120)
//   3. repeat: among all neighbouring pairs of the piece, take the one that comes first in
//      the merges file (the lowest rank); none: stop. Join every occurrence of it, left to
//      right
//   4. look each resulting string up in the vocabulary: its id
//
// Shapes in: text (bytes).  Shapes out: ids (n), each in 0 .. V − 1.
//
// Worked example (GPT-2's own files, encoder.json + vocab.bpe):
//     EducationalBPE bpe("encoder.json", "vocab.bpe");
//     bpe.merge_steps(" tokens");
//       // Ġ t o k e n s  ->  Ġt o k e n s  ->  Ġt o k en s  ->  Ġto k en s  ->  Ġto k ens
//       //                ->  Ġto kens  ->  Ġtokens
//     bpe.encode(" tokens");   // {16326}: one token
//     bpe.merge_steps("토큰");  // í Ĩ ł í ģ °: six bytes, and no merge in GPT-2's list joins them
//     bpe.encode("토큰");       // {169, 228, 254, 169, 223, 108}: six byte tokens
#pragma once

#include "detail/io.hpp"
#include "error.hpp"
#include "pretokenizer.hpp"
#include "token_id.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace minigpt {

class EducationalBPE {
 public:
  // OpenAI's encoder.json + vocab.bpe (or Hugging Face's vocab.json + merges.txt).
  EducationalBPE(const std::string& vocab_path, const std::string& merges_path) {
    make_byte_alphabet();
    const nlohmann::json vocab = detail::read_json_file(vocab_path);
    if (!vocab.is_object()) throw FileError(vocab_path, "", "expected a JSON object of token -> id");
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_integer()) throw FileError(vocab_path, it.key(), "the id must be an integer");
      vocab_[it.key()] = it.value().get<TokenId>();
    }
    std::istringstream merges(detail::read_file(merges_path));
    std::string line;
    for (std::size_t line_no = 1; std::getline(merges, line); ++line_no) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
      std::istringstream parts(line);
      std::string left, right;
      if (!(parts >> left >> right)) continue;
      ranks_.emplace(std::make_pair(left, right), ranks_.size());
    }
  }

  // Text -> ids (special tokens are plain text here, as in BPETokenizer::encode).
  std::vector<TokenId> encode(std::string_view text) const {
    std::vector<TokenId> ids;
    for_each_piece(text, [&](std::string_view piece) {
      const std::vector<std::vector<std::string>> steps = merge_steps(piece);
      for (const std::string& symbol : steps.back()) {
        const auto it = vocab_.find(symbol);
        if (it == vocab_.end()) throw ArgumentError("EducationalBPE: '" + symbol + "' is not in the vocabulary");
        ids.push_back(it->second);
      }
    });
    return ids;
  }

  // Step 2 and 3 for one piece, showing the work: the piece as symbols before the first merge,
  // then after each merge. The last entry is what step 4 looks up.
  std::vector<std::vector<std::string>> merge_steps(std::string_view piece) const {
    std::vector<std::string> word;
    for (unsigned char b : piece) word.push_back(byte_symbol_[b]);
    std::vector<std::vector<std::string>> steps{word};
    while (word.size() > 1) {
      // The neighbouring pair of lowest rank.
      const std::pair<std::string, std::string>* best = nullptr;
      std::size_t best_rank = 0;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        const auto it = ranks_.find({word[i], word[i + 1]});
        if (it != ranks_.end() && (best == nullptr || it->second < best_rank)) {
          best = &it->first;
          best_rank = it->second;
        }
      }
      if (best == nullptr) break;
      // Every occurrence of it, left to right.
      std::vector<std::string> merged;
      for (std::size_t i = 0; i < word.size(); ++i) {
        if (i + 1 < word.size() && word[i] == best->first && word[i + 1] == best->second) {
          merged.push_back(word[i] + word[i + 1]);
          ++i;
        } else {
          merged.push_back(word[i]);
        }
      }
      word.swap(merged);
      steps.push_back(word);
    }
    return steps;
  }

  std::size_t merge_count() const { return ranks_.size(); }

 private:
  // encoder.py's bytes_to_unicode(): the printable bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF
  // stand for themselves; the other 68 bytes, in order, take U+0100, U+0101, ...
  void make_byte_alphabet() {
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int next = 256;
    for (int b = 0; b < 256; ++b) byte_symbol_[b] = utf8(printable(b) ? b : next++);
  }

  static std::string utf8(int cp) {  // code points below U+0800 are all this needs
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  }

  std::string byte_symbol_[256];
  std::map<std::string, TokenId> vocab_;
  std::map<std::pair<std::string, std::string>, std::size_t> ranks_;
};

}  // namespace minigpt
