// minigpt/bpe_trainer.hpp — 토큰 만들기: learning BPE merges from a text.
//
// Chapter idea: 토큰은 학습된다. GPT-2's 50,000 merges were not written by anyone: they were
// counted. Start with the 256 bytes as tokens; find the pair of neighbouring tokens that occurs
// most often in the training text; make it a new token; repeat until the vocabulary is as big
// as wanted. Frequent words end up as single tokens, rare ones stay in pieces.
//
//   In:  a training text (bytes), the vocabulary size V wanted, special tokens.
//   Out: a BPETokenizer with 256 byte tokens, V - 256 - (number of specials) merges (fewer if
//        the text runs out of pairs), then the special tokens; save() writes it in Hugging
//        Face's vocab.json + merges.txt format.
//
// Worked example (the classic one), train_bpe("aaabdaaabac", V = 260, no specials):
//   text is one GPT-2 piece: a a a b d a a a b a c
//   merge 0: (a, a)   seen 4 times  -> "aa"     aa a b d aa a b a c
//   merge 1: (a, b)   seen 2 times  -> "ab"     aa ab d aa ab a c      (tie with (aa, a): see below)
//   merge 2: (aa, ab) seen 2 times  -> "aaab"   aaab d aaab a c
//   merge 3: (a, c)   seen 1 time   -> "ac"     aaab d aaab ac         (tie of four pairs)
// Pairs are counted at every position, overlapping ones included ("aaa" holds (a, a) twice),
// and a merge then replaces occurrences left to right. On a tie of counts the pair with the
// smaller ids wins (left id first, then right id), as in Hugging Face's trainer; byte tokens
// are numbered in GPT-2's order ('!' = 0, ..., 'a' = 64), so (a, b) = (64, 65) beats
// (aa, a) = (256, 64).
//
// Rules (as GPT-2): the text is cut into pieces by GPT-2's pattern first, and pairs are never
// counted across pieces; occurrences of the special tokens are cut out and never learned.
//
// Speed: pair counts are kept up to date incrementally. Each merge visits only the distinct
// pieces that contain its pair (an index from pair to pieces), subtracts the pairs those
// pieces had and adds the pairs they have now; a max-heap with lazy deletion finds the next
// best pair. 4,000 merges on tiny Shakespeare (1.1 MB) take well under a second; a test checks
// that the merges equal those of a full recount before every merge.
#pragma once

#include "bpe_tokenizer.hpp"
#include "error.hpp"
#include "pretokenizer.hpp"
#include "token_id.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace minigpt {

// One learned merge, as reported to BPETrainOptions::on_merge.
struct BPETrainStep {
  Index rank = 0;           // 0 for the first merge
  TokenId left = 0, right = 0, result = 0;
  Index count = 0;          // how often the pair occurred when it was chosen
  std::string bytes;        // the new token's bytes
};

struct BPETrainOptions {
  Index vocab_size = 0;  // V wanted, counting the 256 bytes and the special tokens
  std::vector<std::string> special_tokens = {"<|endoftext|>"};  // given the last ids
  Index min_frequency = 1;  // stop early when the best pair occurs fewer times than this
  std::function<void(const BPETrainStep&)> on_merge;  // optional: watch the merges happen
};

namespace detail {

struct PairCountEntry {
  Index count;
  TokenId left, right;
  // Max-heap order: more frequent first; on a tie, smaller (left, right) first.
  bool operator<(const PairCountEntry& o) const {
    if (count != o.count) return count < o.count;
    if (left != o.left) return left > o.left;
    return right > o.right;
  }
};

inline std::uint64_t pair_key(TokenId a, TokenId b) {
  return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b);
}

}  // namespace detail

inline BPETokenizer train_bpe(std::string_view text, const BPETrainOptions& options) {
  const auto n_special = static_cast<Index>(options.special_tokens.size());
  if (options.vocab_size < 256 + n_special)
    throw ArgumentError("train_bpe: vocab_size " + std::to_string(options.vocab_size) +
                        " is less than the 256 byte tokens plus " + std::to_string(n_special) +
                        " special token(s)");
  if (options.vocab_size > Index(std::numeric_limits<TokenId>::max()))
    throw ArgumentError("train_bpe: vocab_size " + std::to_string(options.vocab_size) + " does not fit a 32-bit id");
  for (const auto& s : options.special_tokens)
    if (s.empty()) throw ArgumentError("train_bpe: a special token is empty");

  // 1. Distinct pieces and how often each occurs; special tokens cut out of the text.
  std::unordered_map<std::string_view, Index> piece_count;
  auto count_pieces = [&](std::string_view part) {
    for_each_piece(part, [&](std::string_view piece) { ++piece_count[piece]; });
  };
  {
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t best = std::string_view::npos, len = 0;
      for (const auto& s : options.special_tokens) {
        const std::size_t at = text.find(s, pos);
        if (at < best || (at == best && at != std::string_view::npos && s.size() > len)) {
          best = at;
          len = s.size();
        }
      }
      if (best == std::string_view::npos) break;
      count_pieces(text.substr(pos, best - pos));
      pos = best + len;
    }
    if (pos < text.size()) count_pieces(text.substr(pos));
  }

  // 2. Each distinct piece as a word of token ids; bytes are numbered in GPT-2's order.
  std::array<TokenId, 256> byte_id{};
  std::vector<std::string> tokens(256);
  for (std::size_t i = 0; i < 256; ++i) {
    const std::uint8_t b = detail::byte_alphabet.byte_order[i];
    byte_id[b] = static_cast<TokenId>(i);
    tokens[i] = std::string(1, static_cast<char>(b));
  }
  std::vector<std::vector<TokenId>> words;
  std::vector<Index> freq;
  words.reserve(piece_count.size());
  freq.reserve(piece_count.size());
  {
    // A fixed order (by bytes) so training does not depend on hash-map iteration order.
    std::vector<std::pair<std::string_view, Index>> sorted(piece_count.begin(), piece_count.end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [piece, count] : sorted) {
      if (piece.size() < 2) continue;  // a single byte has no pairs
      std::vector<TokenId> w(piece.size());
      for (std::size_t i = 0; i < piece.size(); ++i) w[i] = byte_id[static_cast<unsigned char>(piece[i])];
      words.push_back(std::move(w));
      freq.push_back(count);
    }
  }

  // 3. Pair counts, and which words hold each pair (may list a word that no longer does).
  std::unordered_map<std::uint64_t, Index> counts;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> where;
  for (std::size_t w = 0; w < words.size(); ++w) {
    const auto& word = words[w];
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const auto k = detail::pair_key(word[i], word[i + 1]);
      counts[k] += freq[w];
      auto& list = where[k];
      if (list.empty() || list.back() != w) list.push_back(static_cast<std::uint32_t>(w));
    }
  }
  std::priority_queue<detail::PairCountEntry> heap;
  for (const auto& [k, c] : counts)
    heap.push({c, static_cast<TokenId>(k >> 32), static_cast<TokenId>(k & 0xFFFFFFFFu)});

  // 4. Merge the best pair until the vocabulary is full.
  std::vector<std::pair<TokenId, TokenId>> merges;
  std::unordered_set<std::uint64_t> merged;
  std::unordered_map<std::string, TokenId> id_of_bytes;  // to reuse a token made twice
  for (std::size_t i = 0; i < tokens.size(); ++i) id_of_bytes.emplace(tokens[i], static_cast<TokenId>(i));
  std::vector<std::uint32_t> visited(words.size(), 0);  // stamp: last merge that visited a word
  std::uint32_t stamp = 0;
  const Index want_tokens = options.vocab_size - n_special;
  while (static_cast<Index>(tokens.size()) < want_tokens && !heap.empty()) {
    const detail::PairCountEntry top = heap.top();
    heap.pop();
    const auto key = detail::pair_key(top.left, top.right);
    const Index now = counts[key];
    if (now != top.count) {  // stale: the count dropped since this entry was pushed
      if (now > 0) heap.push({now, top.left, top.right});
      continue;
    }
    if (now < std::max<Index>(options.min_frequency, 1)) break;
    // A pair merged before can only come back through a token made twice; encoding would
    // have merged it at its first rank already, so it is not learned again.
    if (!merged.insert(key).second) continue;

    std::string joined = tokens[static_cast<std::size_t>(top.left)] + tokens[static_cast<std::size_t>(top.right)];
    TokenId made;
    if (auto it = id_of_bytes.find(joined); it != id_of_bytes.end()) {
      made = it->second;
    } else {
      made = static_cast<TokenId>(tokens.size());
      tokens.push_back(joined);
      id_of_bytes.emplace(joined, made);
    }
    merges.emplace_back(top.left, top.right);
    if (options.on_merge)
      options.on_merge({static_cast<Index>(merges.size() - 1), top.left, top.right, made, now, joined});

    // Rewrite every word that holds the pair; keep the counts and the index up to date.
    ++stamp;
    std::unordered_set<std::uint64_t> fresh;  // pairs with the new token, to push afterwards
    const std::vector<std::uint32_t> holders = std::move(where[key]);
    where.erase(key);
    for (const std::uint32_t w : holders) {
      if (visited[w] == stamp) continue;
      visited[w] = stamp;
      auto& word = words[w];
      const Index f = freq[w];
      bool has = false;
      for (std::size_t i = 0; i + 1 < word.size() && !has; ++i)
        has = word[i] == top.left && word[i + 1] == top.right;
      if (!has) continue;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) counts[detail::pair_key(word[i], word[i + 1])] -= f;
      std::size_t out = 0;
      for (std::size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == top.left && word[i + 1] == top.right) {
          word[out++] = made;
          i += 2;
        } else {
          word[out++] = word[i++];
        }
      }
      word.resize(out);
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        const auto k = detail::pair_key(word[i], word[i + 1]);
        counts[k] += f;
        if (word[i] == made || word[i + 1] == made) {
          fresh.insert(k);
          auto& list = where[k];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
    }
    counts.erase(key);
    for (const auto k : fresh) {
      const Index c = counts[k];
      if (c > 0) heap.push({c, static_cast<TokenId>(k >> 32), static_cast<TokenId>(k & 0xFFFFFFFFu)});
    }
  }

  // 5. Special tokens last, as in GPT-2 (<|endoftext|> = the last id).
  for (const auto& s : options.special_tokens) {
    if (id_of_bytes.count(s))
      throw ArgumentError("train_bpe: special token '" + escape_bytes(s) +
                          "' has the same bytes as a byte token or a learned token");
    id_of_bytes.emplace(s, static_cast<TokenId>(tokens.size()));
    tokens.push_back(s);
  }
  return BPETokenizer::from_parts(std::move(tokens), merges, "train_bpe");
}

}  // namespace minigpt
