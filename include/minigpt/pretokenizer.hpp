// minigpt/pretokenizer.hpp — 토크나이징, step 1: cutting text into pieces before BPE.
//
// Chapter idea: 토크나이징 (tokenizing). GPT-2 never merges bytes across the borders of a
// word, a number, a run of punctuation or a run of white space. It first cuts the text into
// such pieces with one regular expression, then runs BPE inside each piece on its own:
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
//   In:  bytes (any; invalid UTF-8 allowed).
//   Out: pieces, views into the input, that concatenate back to exactly the input.
//
// Example (· marks a space):
//   pretokenize("I'm 토큰 123!!  ok\n")
//     -> "I"  "'m"  "·토큰"  "·123"  "!!"  "·"  "·ok"  "\n"
//   The two spaces before "ok": the last one joins the word (" ?\p{L}+"), the one before it
//   stays alone ("\s+(?!\S)" gives back one space so the word can take it).
//
// This is the pattern written out by hand as a small state machine, because std::regex knows
// no \p{L}. Its meaning, alternative by alternative, at each position:
//   1. an apostrophe followed by s, t, m, d, re, ve or ll (lower case only: "'S" is not a
//      contraction, it is punctuation "'" then the letter "S");
//   2-4. an optional single U+0020 space, then the longest run of letters, or of numbers, or
//      of "other" characters (neither letter, number nor white space);
//   5. a run of white space that is not followed by a non-space: the whole run at the end of
//      the text, else all of it but its last character;
//   6. otherwise one white-space character on its own (e.g. "\n" right before a word).
// Letter, number and white space are Unicode 16.0's L*, N* and White_Space (see
// unicode.hpp). "Space" in 2-4 means only U+0020: a tab or U+3000 before a word stays a
// piece of its own.
//
// Invalid UTF-8: each byte that does not begin a well-formed UTF-8 character counts as one
// character of class "other", exactly like U+FFFD would. So "\xFF\xFE!" is one piece, " \xFF"
// is one piece, and "a\xFFb" is three: "a", "\xFF", "b". Nothing is dropped or replaced.
#pragma once

#include "unicode.hpp"

#include <cstddef>
#include <string_view>
#include <vector>

namespace minigpt {

namespace detail {

struct ClassedChar {
  CharClass cls;
  std::size_t length;
};

// The class and byte length of the character at p (p < end).
inline ClassedChar classed_char(const unsigned char* p, const unsigned char* end) {
  if (*p < 0x80) return {ascii_classes[*p], 1};
  const Utf8Char c = decode_utf8(p, end);
  return {classify(c), c.length};
}

// Length in bytes of the piece that starts at p (p < end). Always at least 1.
inline std::size_t gpt2_piece_length(const unsigned char* begin, const unsigned char* end) {
  const unsigned char* p = begin;
  const std::size_t left = static_cast<std::size_t>(end - p);

  // 1. Contractions: 's 't 'm 'd 're 've 'll (case-sensitive).
  if (*p == '\'' && left >= 2) {
    const unsigned char a = p[1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (left >= 3) {
      const unsigned char b = p[2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
  }

  // 2-4. Optional space, then a run of one class (letters, numbers or other).
  ClassedChar first = classed_char(p, end);
  const unsigned char* run = p;
  if (*p == ' ' && left >= 2) {
    const ClassedChar next = classed_char(p + 1, end);
    if (next.cls != CharClass::space) {
      run = p + 1;
      first = next;
    }
  }
  if (first.cls != CharClass::space) {
    const CharClass cls = first.cls;
    const unsigned char* q = run + first.length;
    while (q < end) {
      const ClassedChar c = classed_char(q, end);
      if (c.cls != cls) break;
      q += c.length;
    }
    return static_cast<std::size_t>(q - begin);
  }

  // 5-6. White space: the run, less its last character when a non-space follows it.
  const unsigned char* q = p;
  const unsigned char* last = p;  // start of the run's last character
  std::size_t chars = 0;
  while (q < end) {
    const ClassedChar c = classed_char(q, end);
    if (c.cls != CharClass::space) break;
    last = q;
    q += c.length;
    ++chars;
  }
  if (q == end) return static_cast<std::size_t>(q - begin);       // \s+(?!\S) at the end
  if (chars >= 2) return static_cast<std::size_t>(last - begin);  // \s+(?!\S), one given back
  return static_cast<std::size_t>(q - begin);                     // \s+ : a lone space char
}

}  // namespace detail

// Calls f(piece) for each GPT-2 piece of text, in order. piece is a std::string_view into text.
template <typename F>
void for_each_piece(std::string_view text, F&& f) {
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  const auto* p = begin;
  while (p < end) {
    const std::size_t n = detail::gpt2_piece_length(p, end);
    f(text.substr(static_cast<std::size_t>(p - begin), n));
    p += n;
  }
}

// The GPT-2 pieces of text, as views into it (text must outlive them).
inline std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for_each_piece(text, [&](std::string_view piece) { pieces.push_back(piece); });
  return pieces;
}

}  // namespace minigpt
