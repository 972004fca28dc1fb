// A deliberately simple byte-level BPE, written for the tests: the reference that
// BPETokenizer's ids are checked against, by a Catch2 test (test_reference_bpe.cpp) and by the
// encode fuzzer (fuzz/fuzz_encode.cpp).
//
// It shares nothing with bpe_tokenizer.hpp but the pre-tokenizer (for_each_piece): it has its
// own byte alphabet, its own file reading, and it merges the way OpenAI's encoder.py does, on
// strings, by scanning:
//
//   word = the piece's bytes, each spelled as one character of the byte alphabet
//   loop: among all neighbouring pairs of word, take the one with the lowest rank in the
//         merges file (none: stop); replace every occurrence of it, left to right, by the
//         two strings joined
//   ids  = the vocabulary's id of each string of word
//
// Slow (quadratic in a piece, a map look-up per pair) and obviously right: keep it that way.
#pragma once

#include <minigpt/pretokenizer.hpp>
#include <minigpt/tensor.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace test {

class ReferenceBPE {
 public:
  ReferenceBPE(const std::string& vocab_path, const std::string& merges_path) {
    // encoder.py's bytes_to_unicode(): printable bytes keep their code point, the other 68
    // take 256, 257, ... in byte order.
    std::vector<int> bs, cs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    cs = bs;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool listed = false;
      for (int x : bs) listed = listed || x == b;
      if (!listed) {
        bs.push_back(b);
        cs.push_back(256 + n);
        ++n;
      }
    }
    for (std::size_t i = 0; i < bs.size(); ++i) byte_char_[bs[i]] = utf8(cs[i]);

    std::ifstream vocab(vocab_path, std::ios::binary);
    if (!vocab) throw std::runtime_error("cannot open " + vocab_path);
    const nlohmann::json j = nlohmann::json::parse(vocab);
    for (auto it = j.begin(); it != j.end(); ++it) encoder_[it.key()] = it.value().get<minigpt::TokenId>();

    std::ifstream merges(merges_path, std::ios::binary);
    if (!merges) throw std::runtime_error("cannot open " + merges_path);
    std::string line;
    std::size_t rank = 0;
    bool first = true;
    while (std::getline(merges, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (first && line.rfind("#version", 0) == 0) {
        first = false;
        continue;
      }
      first = false;
      std::istringstream parts(line);
      std::string a, b;
      if (!(parts >> a >> b)) continue;
      ranks_.emplace(std::make_pair(a, b), rank++);
    }
  }

  // Ids of text, special tokens as plain text (like BPETokenizer::encode).
  std::vector<minigpt::TokenId> encode(std::string_view text) const {
    std::vector<minigpt::TokenId> ids;
    minigpt::for_each_piece(text, [&](std::string_view piece) {
      for (const std::string& token : bpe(piece)) {
        const auto it = encoder_.find(token);
        if (it == encoder_.end()) throw std::runtime_error("reference BPE: '" + token + "' is not in the vocabulary");
        ids.push_back(it->second);
      }
    });
    return ids;
  }

  std::size_t merge_count() const { return ranks_.size(); }

 private:
  static std::string utf8(int cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  }

  std::vector<std::string> bpe(std::string_view piece) const {
    std::vector<std::string> word;
    for (unsigned char b : piece) word.push_back(byte_char_[b]);
    while (word.size() > 1) {
      // The neighbouring pair of lowest rank.
      const std::pair<std::string, std::string>* best = nullptr;
      std::size_t best_rank = 0;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        const auto it = ranks_.find(std::make_pair(word[i], word[i + 1]));
        if (it != ranks_.end() && (best == nullptr || it->second < best_rank)) {
          best = &it->first;
          best_rank = it->second;
        }
      }
      if (best == nullptr) break;
      // Every occurrence of it, left to right.
      std::vector<std::string> merged;
      for (std::size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == best->first && word[i + 1] == best->second) {
          merged.push_back(word[i] + word[i + 1]);
          i += 2;
        } else {
          merged.push_back(word[i]);
          i += 1;
        }
      }
      word.swap(merged);
    }
    return word;
  }

  std::string byte_char_[256];
  std::map<std::string, minigpt::TokenId> encoder_;
  std::map<std::pair<std::string, std::string>, std::size_t> ranks_;
};

}  // namespace test
