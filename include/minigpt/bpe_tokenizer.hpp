// minigpt/bpe_tokenizer.hpp — 토큰: GPT-2's byte-level BPE tokenizer, id for id.
//
// Chapter idea: 토큰 ≠ 단어. GPT-2 knows 50,257 tokens: the 256 single bytes, 50,000 byte
// strings learned by merging frequent neighbours ("byte pair encoding", BPE), and the special
// token <|endoftext|>. A common English word is one token ("Hello" = 15496). A Korean syllable
// is three bytes in UTF-8 and GPT-2 learned few merges for them, so "토큰" (two syllables, six
// bytes) costs six tokens, one per byte: the model pays far more for Korean than for English.
//
//   In:  bytes, any (invalid UTF-8 too); or ids.
//   Out: ids in [0, 50257) equal to OpenAI's GPT-2 tokenizer's; or the exact bytes back.
//
// How encode works:
//   1. Cut the text into pieces with GPT-2's pattern (pretokenizer.hpp).
//   2. Inside each piece, start from one token per byte.
//   3. Repeatedly find the neighbouring pair with the lowest merge rank (the leftmost one on a
//      tie) and merge it into the token the merge names; stop when no neighbouring pair is a
//      merge.
//
// Show your work: explain(" 아닙니다") returns one piece, 13 bytes, and its merges in order
// (tokens printed in GPT-2's spelling, Ġ = space):
//     start:  Ġ ì ķ Ħ ë ĭ Ļ ë ĭ Ī ë ĭ ¤                  13 byte tokens
//     rank 23565:  Ġ + ì -> Ġì    (id 23821)            space + first byte of 아
//     rank 46439:  ë + ĭ -> ëĭ    (id 46695)            first two bytes of 닙
//     rank 46439:  ë + ĭ -> ëĭ    (id 46695)            ... of 니 (leftmost first)
//     rank 46439:  ë + ĭ -> ëĭ    (id 46695)            ... of 다
//     ids: 23821 243 226 46695 247 46695 230 46695 97   9 tokens for 4 syllables
//
// Files. OpenAI's `encoder.json` + `vocab.bpe` and Hugging Face's `vocab.json` + `merges.txt`
// are the same two formats under two names:
//   vocab: a JSON object {token: id}. Each token is spelled with GPT-2's byte alphabet, one
//          printable character per byte (space -> "Ġ" U+0120, newline -> "Ċ" U+010A, byte 0xED
//          -> "í"). Ids must run from 0 to V-1 without gaps or repeats, and all 256 single-byte
//          tokens must be present.
//   merges: text, an optional first line "#version: ...", then one merge per line, "left
//          right" (two tokens, one space); the line order is the rank. Both tokens and their
//          concatenation must be in the vocabulary.
// A vocabulary entry that is neither a single byte nor made by a merge is a special token
// (GPT-2: only <|endoftext|>, id 50256). A key that is not spelled in the byte alphabet (an
// added token written as plain text by another tool) stands for its own UTF-8 bytes.
//
// Speed (the ideas of tiktoken's byte-pair loop, written anew): a piece that is itself a token
// is found by one hash look-up (only tokens whose own bytes encode to themselves are in it, so
// it never changes an answer); short pieces run the plain loop above over a small array;
// pieces longer than 128 bytes (a megabyte of "a", of spaces or of one emoji) run on a linked
// list with the candidate pairs kept by rank, O(n log n) instead of O(n^2) (see merge_long).
// An honest note: the plain loop is quadratic in the piece length, which is why it stops at
// 128 bytes; typical pieces are words of under 10 bytes.
#pragma once

#include "detail/io.hpp"
#include "error.hpp"
#include "pretokenizer.hpp"
#include "token_id.hpp"
#include "tokenizer.hpp"
#include "unicode.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace minigpt {

// One merge applied while encoding a piece: left + right -> result, at this rank.
struct BPEMerge {
  TokenId left = 0, right = 0, result = 0;
  Index rank = 0;
};

// The work behind one piece: its bytes, its byte tokens, the merges in the order they were
// applied, and the ids that came out.
struct BPEPiece {
  std::string bytes;
  std::vector<TokenId> byte_tokens;
  std::vector<BPEMerge> merges;
  std::vector<TokenId> ids;
  bool special = false;  // a special token matched by explain(text, true)
};

namespace detail {

// ---- GPT-2's byte alphabet: every byte gets a printable character ----
// Bytes that are already printable (! to ~, ¡ to ¬, ® to ÿ) keep their own code point; the 68
// others (controls, space, DEL, ...) take U+0100, U+0101, ... in byte order. Token ids 0..255
// of GPT-2 follow the same order: first the printable bytes, then the others.
struct ByteAlphabet {
  std::array<char32_t, 256> char_of_byte{};   // byte -> code point
  std::array<std::uint8_t, 256> byte_order{};  // position i -> byte (GPT-2 ids 0..255)
  std::array<std::int16_t, 324> byte_of_char{};  // code point (< 324) -> byte, or -1
};

inline constexpr ByteAlphabet make_byte_alphabet() {
  ByteAlphabet a{};
  for (auto& b : a.byte_of_char) b = -1;
  auto printable = [](std::size_t b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
  std::size_t k = 0;
  for (std::size_t b = 0; b < 256; ++b)
    if (printable(b)) {
      a.char_of_byte[b] = static_cast<char32_t>(b);
      a.byte_order[k++] = static_cast<std::uint8_t>(b);
    }
  char32_t next = 256;
  for (std::size_t b = 0; b < 256; ++b)
    if (!printable(b)) {
      a.char_of_byte[b] = next++;
      a.byte_order[k++] = static_cast<std::uint8_t>(b);
    }
  for (std::size_t b = 0; b < 256; ++b) a.byte_of_char[a.char_of_byte[b]] = static_cast<std::int16_t>(b);
  return a;
}

inline constexpr ByteAlphabet byte_alphabet = make_byte_alphabet();

// Bytes -> GPT-2 spelling, e.g. " 토" -> "ĠíĨł".
inline std::string spell_bytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += encode_utf8(byte_alphabet.char_of_byte[b]);
  return out;
}

// GPT-2 spelling -> bytes. False (and bytes unspecified) when a character is not in the alphabet.
inline bool unspell_bytes(std::string_view spelled, std::string& bytes) {
  bytes.clear();
  std::size_t i = 0;
  while (i < spelled.size()) {
    const Utf8Char c = decode_utf8(spelled, i);
    if (!c.valid || c.code_point >= byte_alphabet.byte_of_char.size()) return false;
    const std::int16_t b = byte_alphabet.byte_of_char[c.code_point];
    if (b < 0) return false;
    bytes += static_cast<char>(b);
    i += c.length;
  }
  return true;
}

// ---- hashing ----
inline std::uint64_t mix64(std::uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

inline std::uint64_t hash_bytes(const unsigned char* p, std::size_t n) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return mix64(h ^ w);
}

inline std::size_t table_capacity(std::size_t n) {
  std::size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  return cap;
}

// (left id, right id) -> (rank, result id), open addressing. Built once, then read-only.
class PairTable {
 public:
  struct Value {
    std::uint32_t rank;
    TokenId result;
  };
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

  void build(const std::vector<std::pair<TokenId, TokenId>>& merges, const std::vector<TokenId>& results) {
    slots_.assign(table_capacity(merges.size()), Slot{kEmpty, {kNone, -1}});
    mask_ = slots_.size() - 1;
    for (std::size_t r = 0; r < merges.size(); ++r) {
      const std::uint64_t k = key(merges[r].first, merges[r].second);
      std::size_t i = mix64(k) & mask_;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = Slot{k, {static_cast<std::uint32_t>(r), results[r]}};
    }
  }
  Value find(TokenId a, TokenId b) const {
    const std::uint64_t k = key(a, b);
    std::size_t i = mix64(k) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == k) return s.value;
      if (s.key == kEmpty) return {kNone, -1};
      i = (i + 1) & mask_;
    }
  }

 private:
  static constexpr std::uint64_t kEmpty = std::numeric_limits<std::uint64_t>::max();
  static std::uint64_t key(TokenId a, TokenId b) {
    return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b);
  }
  struct Slot {
    std::uint64_t key;
    Value value;
  };
  std::vector<Slot> slots_{Slot{kEmpty, {kNone, -1}}};
  std::size_t mask_ = 0;
};

// Byte string -> token id, for the tokens whose own bytes encode to themselves. Keys are
// (offset, length) into an arena owned by the caller. Built once, then read-only.
class BytesTable {
 public:
  void build(const std::string& arena, const std::vector<std::size_t>& offsets,
             const std::vector<TokenId>& ids) {
    slots_.assign(table_capacity(ids.size()), Slot{});
    mask_ = slots_.size() - 1;
    for (TokenId id : ids) {
      const auto k = static_cast<std::size_t>(id);
      const std::size_t off = offsets[k], len = offsets[k + 1] - off;
      const std::uint64_t h = hash_bytes(reinterpret_cast<const unsigned char*>(arena.data()) + off, len);
      std::size_t i = h & mask_;
      while (slots_[i].id >= 0) i = (i + 1) & mask_;
      slots_[i] = Slot{h, off, len, id};
    }
  }
  TokenId find(const std::string& arena, const unsigned char* p, std::size_t n) const {
    const std::uint64_t h = hash_bytes(p, n);
    std::size_t i = h & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.length == n && std::memcmp(arena.data() + s.offset, p, n) == 0) return s.id;
      i = (i + 1) & mask_;
    }
  }
 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::size_t offset = 0, length = 0;
    TokenId id = -1;
  };
  std::vector<Slot> slots_{Slot{}};
  std::size_t mask_ = 0;
};

}  // namespace detail

class BPETokenizer : public Tokenizer {
 public:
  // Pieces up to this many bytes use the small quadratic loop; longer ones merge_long.
  static constexpr std::size_t kSmallPiece = 128;

  // A tokenizer from its parts: the bytes of every token (index = id) and the merges as id
  // pairs in rank order. Specials are inferred (not a byte, not made by a merge). `where`
  // names the source in errors. Throws FileError(where, field, ...) when the parts disagree.
  static BPETokenizer from_parts(std::vector<std::string> tokens,
                                 const std::vector<std::pair<TokenId, TokenId>>& merges,
                                 const std::string& where = "BPETokenizer",
                                 const std::string& merges_where = "");

  // OpenAI's encoder.json + vocab.bpe, or Hugging Face's vocab.json + merges.txt.
  static BPETokenizer from_files(const std::string& vocab_path, const std::string& merges_path);

  // ---- Tokenizer ----
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> out;
    out.reserve(text.size() / 3 + 8);
    encode_ordinary_into(text, out);
    return out;
  }
  std::vector<TokenId> encode_with_special(std::string_view text) const override;
  std::string decode(const std::vector<TokenId>& ids) const override {
    check_token_ids(ids, vocab_size(), "decode");
    std::size_t total = 0;
    for (TokenId id : ids) {
      const auto k = static_cast<std::size_t>(id);
      total += offsets_[k + 1] - offsets_[k];
    }
    std::string out;
    out.reserve(total);
    for (TokenId id : ids) {
      const auto k = static_cast<std::size_t>(id);
      out.append(arena_, offsets_[k], offsets_[k + 1] - offsets_[k]);
    }
    return out;
  }
  Index vocab_size() const override { return static_cast<Index>(offsets_.empty() ? 0 : offsets_.size() - 1); }
  std::string token_bytes(TokenId id) const override { return std::string(token_view(id)); }
  std::vector<std::pair<std::string, TokenId>> special_tokens() const override {
    std::vector<std::pair<std::string, TokenId>> out;
    for (TokenId id : special_ids_) out.emplace_back(token_bytes(id), id);
    return out;
  }
  void save(const std::string& dir) const override;
  std::string kind() const override { return "bpe"; }

  // ---- BPE specifics ----
  // The bytes of a token as a view into this tokenizer (valid while it lives).
  std::string_view token_view(TokenId id) const {
    check_id(id);
    const auto k = static_cast<std::size_t>(id);
    return std::string_view(arena_).substr(offsets_[k], offsets_[k + 1] - offsets_[k]);
  }
  // A token as GPT-2's files spell it, e.g. 995 -> "Ġworld".
  std::string token_spelling(TokenId id) const { return detail::spell_bytes(token_view(id)); }
  // The merges, rank order: merges()[r] = (left, right), making merge_result(r).
  const std::vector<std::pair<TokenId, TokenId>>& merges() const { return merges_; }
  TokenId merge_result(Index rank) const { return merge_results_.at(static_cast<std::size_t>(rank)); }
  // The token of a single byte.
  TokenId byte_token(unsigned char b) const { return byte_token_[b]; }
  // True when every merge's two sides are bytes or made only by earlier merges (GPT-2's files
  // and every trained BPE): long pieces can then sweep the ranks in order.
  bool ranks_monotone() const { return monotone_; }

  // Show your work: the pieces of text and, for each, the merges in the order applied.
  // With allow_special, special tokens are matched first and appear as pieces of their own.
  std::vector<BPEPiece> explain(std::string_view text, bool allow_special = false) const;

  // Appends the ids of text (special tokens as plain text) to out.
  void encode_ordinary_into(std::string_view text, std::vector<TokenId>& out) const {
    if (offsets_.empty()) throw ArgumentError("BPETokenizer: this tokenizer is empty (default-constructed)");
    for_each_piece(text, [&](std::string_view piece) { encode_piece(piece, out, nullptr); });
  }

 private:
  void check_id(TokenId id) const {
    if (id < 0 || static_cast<Index>(id) >= vocab_size()) throw id_out_of_range(id, vocab_size());
  }

  // BPE inside one piece; appends its ids to out, and its merges to trace if given.
  void encode_piece(std::string_view piece, std::vector<TokenId>& out,
                    std::vector<BPEMerge>* trace) const {
    const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
    const std::size_t n = piece.size();
    if (n == 1) {
      out.push_back(byte_token_[p[0]]);
      return;
    }
    if (!trace) {
      const TokenId whole = whole_.find(arena_, p, n);
      if (whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    if (n <= kSmallPiece)
      merge_small(p, n, out, trace);
    else
      merge_long(p, n, out, trace);
  }

  // The plain loop over a small array: find the lowest-ranked neighbouring pair, merge, repeat.
  void merge_small(const unsigned char* p, std::size_t n, std::vector<TokenId>& out,
                   std::vector<BPEMerge>* trace) const {
    TokenId ids[kSmallPiece];
    detail::PairTable::Value pair[kSmallPiece];  // pair[i]: merge of ids[i], ids[i+1]
    std::size_t m = n;
    for (std::size_t i = 0; i < n; ++i) ids[i] = byte_token_[p[i]];
    for (std::size_t i = 0; i + 1 < m; ++i) pair[i] = pairs_.find(ids[i], ids[i + 1]);
    while (m > 1) {
      std::uint32_t best = detail::PairTable::kNone;
      std::size_t at = 0;
      for (std::size_t i = 0; i + 1 < m; ++i)
        if (pair[i].rank < best) {
          best = pair[i].rank;
          at = i;
        }
      if (best == detail::PairTable::kNone) break;
      if (trace) trace->push_back({ids[at], ids[at + 1], pair[at].result, static_cast<Index>(best)});
      ids[at] = pair[at].result;
      for (std::size_t i = at + 1; i + 1 < m; ++i) ids[i] = ids[i + 1];     // drop ids[at + 1]
      for (std::size_t i = at + 1; i + 2 < m; ++i) pair[i] = pair[i + 1];  // and its pair
      --m;
      if (at > 0) pair[at - 1] = pairs_.find(ids[at - 1], ids[at]);
      if (at + 1 < m) pair[at] = pairs_.find(ids[at], ids[at + 1]);
    }
    out.insert(out.end(), ids, ids + m);
  }

  // The same merges, in the same order, for long pieces: a doubly linked list of symbols, and
  // the candidate pairs as (rank, position) kept either in buckets swept by increasing rank
  // (monotone merge tables) or in a min-heap (any table). A candidate whose pair has changed
  // since it was offered (a side was merged away) no longer has that rank at that position and
  // is skipped: a position's token only ever grows, so a pair never comes back once gone.
  void merge_long(const unsigned char* p, std::size_t n, std::vector<TokenId>& out,
                  std::vector<BPEMerge>* trace) const {
    if (n >= std::numeric_limits<std::uint32_t>::max())
      throw ArgumentError("BPETokenizer: one piece of " + std::to_string(n) +
                          " bytes is more than this tokenizer handles (4 GiB)");
    constexpr std::uint32_t kEnd = std::numeric_limits<std::uint32_t>::max();
    struct Symbol {
      TokenId id;
      std::uint32_t prev, next;
    };
    std::vector<Symbol> sym(n);
    for (std::size_t i = 0; i < n; ++i)
      sym[i] = {byte_token_[p[i]], i == 0 ? kEnd : static_cast<std::uint32_t>(i - 1),
                i + 1 == n ? kEnd : static_cast<std::uint32_t>(i + 1)};
    // Merges the pair at `pos` if it still has rank `rank`, then offers its new neighbours.
    auto apply = [&](std::uint32_t rank, std::uint32_t pos, auto&& push) {
      Symbol& left = sym[pos];
      if (left.id < 0 || left.next == kEnd) return;  // stale
      Symbol& right = sym[left.next];
      const auto v = pairs_.find(left.id, right.id);
      if (v.rank != rank) return;  // stale: this position now holds another pair
      if (trace) trace->push_back({left.id, right.id, v.result, static_cast<Index>(rank)});
      left.id = v.result;
      right.id = -1;
      left.next = right.next;
      if (right.next != kEnd) sym[right.next].prev = pos;
      for (std::uint32_t l : {left.prev, pos}) {
        if (l == kEnd || sym[l].next == kEnd) continue;
        const auto w = pairs_.find(sym[l].id, sym[sym[l].next].id);
        if (w.rank != detail::PairTable::kNone) push(w.rank, l);
      }
    };
    if (monotone_) {
      // Every pair a merge creates ranks after the merge that created it, so the ranks can be
      // swept in increasing order: one bucket of positions per rank, each bucket complete
      // (and sorted, for leftmost-first) by the time its turn comes.
      std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> buckets;
      std::vector<std::uint32_t> ranks;  // min-heap of ranks that have a bucket
      std::uint32_t last_rank = detail::PairTable::kNone;
      std::vector<std::uint32_t>* last_bucket = nullptr;
      auto push = [&](std::uint32_t rank, std::uint32_t pos) {
        if (rank != last_rank) {
          auto [it, fresh] = buckets.try_emplace(rank);
          if (fresh) {
            ranks.push_back(rank);
            std::push_heap(ranks.begin(), ranks.end(), std::greater<std::uint32_t>());
          }
          last_rank = rank;
          last_bucket = &it->second;
        }
        last_bucket->push_back(pos);
      };
      for (std::size_t i = 0; i + 1 < n; ++i) {
        const auto v = pairs_.find(sym[i].id, sym[i + 1].id);
        if (v.rank != detail::PairTable::kNone) push(v.rank, static_cast<std::uint32_t>(i));
      }
      while (!ranks.empty()) {
        std::pop_heap(ranks.begin(), ranks.end(), std::greater<std::uint32_t>());
        const std::uint32_t rank = ranks.back();
        ranks.pop_back();
        auto node = buckets.extract(rank);
        if (last_rank == rank) last_rank = detail::PairTable::kNone;
        std::vector<std::uint32_t>& positions = node.mapped();
        if (!std::is_sorted(positions.begin(), positions.end())) std::sort(positions.begin(), positions.end());
        for (std::uint32_t pos : positions) apply(rank, pos, push);
      }
    } else {
      // Any merge table: one min-heap of (rank, position) packed into 64 bits.
      std::vector<std::uint64_t> heap;
      heap.reserve(n);
      auto key = [](std::uint32_t rank, std::uint32_t pos) { return (std::uint64_t(rank) << 32) | pos; };
      auto push = [&](std::uint32_t rank, std::uint32_t pos) {
        heap.push_back(key(rank, pos));
        std::push_heap(heap.begin(), heap.end(), std::greater<std::uint64_t>());
      };
      for (std::size_t i = 0; i + 1 < n; ++i) {
        const auto v = pairs_.find(sym[i].id, sym[i + 1].id);
        if (v.rank != detail::PairTable::kNone) heap.push_back(key(v.rank, static_cast<std::uint32_t>(i)));
      }
      std::make_heap(heap.begin(), heap.end(), std::greater<std::uint64_t>());
      while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<std::uint64_t>());
        const std::uint64_t top = heap.back();
        heap.pop_back();
        apply(static_cast<std::uint32_t>(top >> 32), static_cast<std::uint32_t>(top & 0xFFFFFFFFu), push);
      }
    }
    for (std::uint32_t i = 0; i != kEnd; i = sym[i].next) out.push_back(sym[i].id);
  }

  // Calls on_text(part) for the text between special tokens and on_special(id) for each
  // special token, in order. At one position the longest special token wins.
  template <typename OnText, typename OnSpecial>
  void split_at_specials(std::string_view text, OnText&& on_text, OnSpecial&& on_special) const {
    const std::size_t none = std::string_view::npos;
    std::vector<std::size_t> next(special_ids_.size());  // next occurrence of each, or none
    for (std::size_t k = 0; k < special_ids_.size(); ++k) next[k] = text.find(token_view(special_ids_[k]));
    std::size_t pos = 0;
    for (;;) {
      std::size_t best = none, which = 0;
      for (std::size_t k = 0; k < special_ids_.size(); ++k) {
        if (next[k] != none && next[k] < pos) next[k] = text.find(token_view(special_ids_[k]), pos);
        if (next[k] == none) continue;
        if (best == none || next[k] < best ||
            (next[k] == best && token_view(special_ids_[k]).size() > token_view(special_ids_[which]).size())) {
          best = next[k];
          which = k;
        }
      }
      if (best == none) break;
      if (best > pos) on_text(text.substr(pos, best - pos));
      on_special(special_ids_[which]);
      pos = best + token_view(special_ids_[which]).size();
    }
    if (pos < text.size()) on_text(text.substr(pos));
  }

  std::string arena_;                 // the bytes of all tokens, id order
  std::vector<std::size_t> offsets_;  // token k is arena_[offsets_[k], offsets_[k+1])
  std::vector<std::pair<TokenId, TokenId>> merges_;
  std::vector<TokenId> merge_results_;
  std::vector<TokenId> special_ids_;
  std::array<TokenId, 256> byte_token_{};
  detail::PairTable pairs_;
  detail::BytesTable whole_;
  bool monotone_ = false;  // every merge's sides were made by strictly earlier merges
};

// ---------------------------------------------------------------------------------------------

inline BPETokenizer BPETokenizer::from_parts(std::vector<std::string> tokens,
                                             const std::vector<std::pair<TokenId, TokenId>>& merges,
                                             const std::string& where, const std::string& merges_where) {
  const std::string& mwhere = merges_where.empty() ? where : merges_where;
  if (tokens.size() > static_cast<std::size_t>(std::numeric_limits<TokenId>::max()))
    throw FileError(where, "vocab", "more tokens than a 32-bit id can name");
  BPETokenizer t;
  const std::size_t V = tokens.size();
  t.offsets_.reserve(V + 1);
  std::size_t total = 0;
  for (const auto& s : tokens) total += s.size();
  t.arena_.reserve(total);
  for (const auto& s : tokens) {
    t.offsets_.push_back(t.arena_.size());
    t.arena_ += s;
  }
  t.offsets_.push_back(t.arena_.size());

  // Which id stands for which byte string (specials may repeat an ordinary token's bytes).
  std::unordered_map<std::string_view, TokenId> by_bytes;
  by_bytes.reserve(V * 2);
  auto view = [&](std::size_t k) { return std::string_view(t.arena_).substr(t.offsets_[k], t.offsets_[k + 1] - t.offsets_[k]); };
  auto show = [&](TokenId id) { return "'" + detail::spell_bytes(view(static_cast<std::size_t>(id))) + "'"; };

  // Merges: both sides known, their concatenation known; the result is not a special.
  std::vector<bool> made(V, false);
  t.merges_ = merges;
  t.merge_results_.resize(merges.size());
  for (std::size_t k = 0; k < V; ++k) {
    const auto [it, fresh] = by_bytes.emplace(view(k), static_cast<TokenId>(k));
    if (!fresh)
      throw FileError(where, "id " + std::to_string(k),
                      show(static_cast<TokenId>(k)) + " has the same bytes as id " + std::to_string(it->second));
    if (view(k).empty()) throw FileError(where, "id " + std::to_string(k), "a token with no bytes");
  }
  std::unordered_map<std::uint64_t, std::size_t> seen_pairs;
  seen_pairs.reserve(merges.size() * 2);
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto [a, b] = merges[r];
    const std::string field = "merge " + std::to_string(r);
    for (TokenId x : {a, b})
      if (x < 0 || static_cast<std::size_t>(x) >= V)
        throw FileError(mwhere, field, "token id " + std::to_string(x) + " is not in the vocabulary");
    const std::uint64_t key = (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b);
    if (!seen_pairs.emplace(key, r).second)
      throw FileError(mwhere, field, "the pair " + show(a) + " " + show(b) + " is already merge " +
                                         std::to_string(seen_pairs[key]));
    std::string joined(view(static_cast<std::size_t>(a)));
    joined += view(static_cast<std::size_t>(b));
    const auto it = by_bytes.find(joined);
    if (it == by_bytes.end())
      throw FileError(mwhere, field, show(a) + " + " + show(b) + " makes '" + detail::spell_bytes(joined) +
                                         "', which is not in the vocabulary");
    t.merge_results_[r] = it->second;
    made[static_cast<std::size_t>(it->second)] = true;
  }
  // Bytes: every byte value must have a token of its own.
  for (std::size_t b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const auto it = by_bytes.find(std::string_view(&c, 1));
    if (it == by_bytes.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(b));
      throw FileError(where, std::string("byte ") + hex,
                      "no token for this byte (expected '" + detail::spell_bytes(std::string(1, c)) + "')");
    }
    t.byte_token_[b] = it->second;
  }
  // A merge's sides must be ordinary tokens (bytes or merge results); the rest are specials.
  auto ordinary = [&](TokenId x) { return made[static_cast<std::size_t>(x)] || view(static_cast<std::size_t>(x)).size() == 1; };
  for (std::size_t r = 0; r < merges.size(); ++r)
    for (TokenId x : {merges[r].first, merges[r].second})
      if (!ordinary(x))
        throw FileError(mwhere, "merge " + std::to_string(r),
                        show(x) + " is neither a single byte nor made by any merge");
  for (std::size_t k = 0; k < V; ++k)
    if (!ordinary(static_cast<TokenId>(k))) t.special_ids_.push_back(static_cast<TokenId>(k));
  t.pairs_.build(t.merges_, t.merge_results_);
  // Monotone: each merge's sides are bytes or made only by earlier merges (true of GPT-2 and
  // of every trained BPE). Then long pieces can sweep ranks in order (see merge_long).
  {
    std::vector<std::int64_t> last_made(V, -1);
    for (std::size_t r = 0; r < merges.size(); ++r) {
      auto& m = last_made[static_cast<std::size_t>(t.merge_results_[r])];
      m = std::max<std::int64_t>(m, static_cast<std::int64_t>(r));
    }
    t.monotone_ = true;
    for (std::size_t r = 0; r < merges.size() && t.monotone_; ++r)
      for (TokenId x : {merges[r].first, merges[r].second})
        if (last_made[static_cast<std::size_t>(x)] >= static_cast<std::int64_t>(r)) t.monotone_ = false;
  }
  // The whole-piece shortcut: only for tokens whose own bytes encode to exactly themselves.
  std::vector<TokenId> whole;
  whole.reserve(V);
  std::vector<TokenId> ids;
  for (std::size_t k = 0; k < V; ++k) {
    if (!made[k]) continue;
    ids.clear();
    const std::string_view bytes = view(k);
    if (bytes.size() <= kSmallPiece)
      t.merge_small(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), ids, nullptr);
    else
      t.merge_long(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), ids, nullptr);
    if (ids.size() == 1 && ids[0] == static_cast<TokenId>(k)) whole.push_back(static_cast<TokenId>(k));
  }
  t.whole_.build(t.arena_, t.offsets_, whole);
  return t;
}

inline std::vector<TokenId> BPETokenizer::encode_with_special(std::string_view text) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 8);
  split_at_specials(
      text, [&](std::string_view part) { encode_ordinary_into(part, out); },
      [&](TokenId id) { out.push_back(id); });
  return out;
}

inline std::vector<BPEPiece> BPETokenizer::explain(std::string_view text, bool allow_special) const {
  std::vector<BPEPiece> pieces;
  auto ordinary = [&](std::string_view part) {
    for_each_piece(part, [&](std::string_view piece) {
      BPEPiece bp;
      bp.bytes = std::string(piece);
      for (unsigned char b : piece) bp.byte_tokens.push_back(byte_token_[b]);
      encode_piece(piece, bp.ids, &bp.merges);
      pieces.push_back(std::move(bp));
    });
  };
  if (!allow_special) {
    ordinary(text);
    return pieces;
  }
  split_at_specials(text, ordinary, [&](TokenId id) {
    BPEPiece bp;
    bp.bytes = token_bytes(id);
    bp.ids = {id};
    bp.special = true;
    pieces.push_back(std::move(bp));
  });
  return pieces;
}

// ---- files ----

namespace detail {

// Reads a {token: id} JSON vocabulary into bytes by id. Returns also spelling -> id.
inline std::vector<std::string> read_bpe_vocab(const std::string& path,
                                               std::unordered_map<std::string, TokenId>& by_spelling) {
  const nlohmann::json j = read_json_file(path, std::size_t(128) << 20);
  if (!j.is_object()) throw FileError(path, "json", "expected an object {token: id}");
  const std::size_t V = j.size();
  std::vector<std::string> tokens(V);
  std::vector<const std::string*> owner(V, nullptr);
  by_spelling.clear();
  by_spelling.reserve(V * 2);
  std::string bytes;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const std::string field = "token '" + key + "'";
    const auto& v = it.value();
    if (!v.is_number_integer()) throw FileError(path, field, "id must be an integer, got " + v.dump());
    const std::int64_t id = v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(INT64_MAX)
                                ? INT64_MAX
                                : v.get<std::int64_t>();
    if (id < 0 || static_cast<std::uint64_t>(id) >= V)
      throw FileError(path, field, "id " + v.dump() + " is out of range: ids must run from 0 to " +
                                       std::to_string(V - 1) + " (one per token, no gaps)");
    const auto k = static_cast<std::size_t>(id);
    if (owner[k])
      throw FileError(path, field, "id " + std::to_string(id) + " is also used by token '" + *owner[k] + "'");
    owner[k] = &key;
    if (unspell_bytes(key, bytes))
      tokens[k] = bytes;
    else
      tokens[k] = key;  // not in GPT-2's byte alphabet: an added token written as plain text
    by_spelling.emplace(key, static_cast<TokenId>(id));
  }
  return tokens;
}

// Reads merges ("left right" per line, rank = order) as id pairs.
inline std::vector<std::pair<TokenId, TokenId>> read_bpe_merges(
    const std::string& path, const std::unordered_map<std::string, TokenId>& by_spelling) {
  const std::string text = read_file(path, std::size_t(128) << 20);
  std::vector<std::pair<TokenId, TokenId>> merges;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line_no == 1 && line.substr(0, 8) == "#version") continue;
    const std::string field = "line " + std::to_string(line_no);
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 >= line.size() ||
        line.find(' ', sp + 1) != std::string_view::npos) {
      std::string shown(line.substr(0, 80));
      throw FileError(path, field, "expected two tokens separated by one space, got '" + shown + "'");
    }
    TokenId ids[2];
    const std::string_view sides[2] = {line.substr(0, sp), line.substr(sp + 1)};
    for (std::size_t s = 0; s < 2; ++s) {
      const auto it = by_spelling.find(std::string(sides[s]));
      if (it == by_spelling.end())
        throw FileError(path, field, "unknown token '" + std::string(sides[s].substr(0, 80)) +
                                         "' (not in the vocabulary)");
      ids[s] = it->second;
    }
    merges.emplace_back(ids[0], ids[1]);
  }
  return merges;
}

}  // namespace detail

inline BPETokenizer BPETokenizer::from_files(const std::string& vocab_path, const std::string& merges_path) {
  std::unordered_map<std::string, TokenId> by_spelling;
  std::vector<std::string> tokens = detail::read_bpe_vocab(vocab_path, by_spelling);
  const auto merges = detail::read_bpe_merges(merges_path, by_spelling);
  return from_parts(std::move(tokens), merges, vocab_path, merges_path);
}

inline void BPETokenizer::save(const std::string& dir) const {
  detail::make_directories(dir);
  // vocab.json in id order, one line, like Hugging Face's; every token in GPT-2's spelling.
  std::string vocab = "{";
  for (Index id = 0; id < vocab_size(); ++id) {
    if (id > 0) vocab += ',';
    vocab += nlohmann::json(token_spelling(static_cast<TokenId>(id))).dump();
    vocab += ':';
    vocab += std::to_string(id);
  }
  vocab += "}\n";
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : merges_) {
    merges += token_spelling(a);
    merges += ' ';
    merges += token_spelling(b);
    merges += '\n';
  }
  detail::write_file_atomic(dir + "/vocab.json", vocab);
  detail::write_file_atomic(dir + "/merges.txt", merges);
}

}  // namespace minigpt
