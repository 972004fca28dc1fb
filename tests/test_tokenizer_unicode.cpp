// Tests of UTF-8 reading, the Unicode 16.0 character classes and GPT-2's pre-tokenizer.
#include <minigpt/pretokenizer.hpp>
#include <minigpt/unicode.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace minigpt;
using Pieces = std::vector<std::string_view>;

TEST_CASE("UTF-8 decoding follows Unicode's well-formedness table", "[tokenizer][unicode]") {
  auto check = [](std::string_view s, char32_t cp, std::size_t len, bool valid) {
    const Utf8Char c = decode_utf8(s);
    INFO(escape_bytes(s));
    CHECK(c.code_point == cp);
    CHECK(c.length == len);
    CHECK(c.valid == valid);
  };
  check("A", U'A', 1, true);
  check("\xC3\xA9", 0xE9, 2, true);
  check("\xED\x86\xA0", 0xD1A0, 3, true);         // 토
  check("\xF0\x9F\x98\x80", 0x1F600, 4, true);     // emoji
  check("\xF4\x8F\xBF\xBF", 0x10FFFF, 4, true);    // the last code point
  check("\xC0\xAF", 0xFFFD, 1, false);             // overlong '/'
  check("\xC1\xBF", 0xFFFD, 1, false);
  check("\xE0\x80\xAF", 0xFFFD, 1, false);         // overlong, 3 bytes
  check("\xF0\x80\x80\xAF", 0xFFFD, 1, false);     // overlong, 4 bytes
  check("\xED\xA0\x80", 0xFFFD, 1, false);         // surrogate U+D800
  check("\xF4\x90\x80\x80", 0xFFFD, 1, false);     // U+110000
  check("\xF5\x80\x80\x80", 0xFFFD, 1, false);
  check("\x80", 0xFFFD, 1, false);                 // lone continuation byte
  check("\xE3\x81", 0xFFFD, 1, false);             // truncated at the end
  check("\xE3\x81" "A", 0xFFFD, 1, false);         // truncated before ASCII
  CHECK(is_valid_utf8("토큰 ≠ 단어 😀"));
  CHECK_FALSE(is_valid_utf8("ok\xFF"));
  CHECK(encode_utf8(0x1F600) == "\xF0\x9F\x98\x80");
  CHECK(encode_utf8(0xD800) == "\xEF\xBF\xBD");
  for (char32_t cp : {char32_t(0), char32_t(0x7F), char32_t(0x80), char32_t(0x7FF), char32_t(0x800),
                      char32_t(0xFFFF), char32_t(0x10000), char32_t(0x10FFFF)}) {
    const std::string s = encode_utf8(cp);
    CHECK(decode_utf8(s).code_point == cp);
    CHECK(decode_utf8(s).length == s.size());
  }
}

TEST_CASE("Character classes are Unicode 16.0 (L*, N*, White_Space)", "[tokenizer][unicode]") {
  CHECK(classify(U'a') == CharClass::letter);
  CHECK(classify(U'\u1100') == CharClass::letter);  // Hangul jamo
  CHECK(classify(U'\uD55C') == CharClass::letter);  // 한
  CHECK(classify(U'\u4E00') == CharClass::letter);  // 一
  CHECK(classify(U'\u0301') == CharClass::other);   // combining acute: a mark, not a letter
  CHECK(classify(U'\u0663') == CharClass::number);  // Arabic-Indic three
  CHECK(classify(U'\u00BD') == CharClass::number);  // ½ (No)
  CHECK(classify(U'\u2167') == CharClass::number);  // Ⅷ (Nl)
  CHECK(classify(U'\u0085') == CharClass::space);   // NEL is White_Space
  CHECK(classify(U'\u3000') == CharClass::space);
  CHECK(classify(U'\uFEFF') == CharClass::other);   // BOM is not White_Space
  CHECK(classify(U'\u200B') == CharClass::other);   // zero width space is not White_Space
  CHECK(classify(U'\U0001F600') == CharClass::other);
  // New in Unicode 16.0 (unassigned in 15.1): Garay letter and digit, Kirat Rai, Todhri.
  CHECK(classify(U'\U00010D4A') == CharClass::letter);
  CHECK(classify(U'\U00010D40') == CharClass::number);
  CHECK(classify(U'\U00016D40') == CharClass::letter);
  CHECK(classify(U'\U000105C0') == CharClass::letter);
  CHECK(classify(U'\u1C89') == CharClass::letter);
  // Assigned only in Unicode 17.0: not letters under the pinned tables.
  CHECK(classify(U'\U00010940') == CharClass::other);
  CHECK(classify(U'\U0001E6C0') == CharClass::other);
  CHECK(classify(char32_t(0x110000)) == CharClass::other);
}

TEST_CASE("The fast class table agrees with the range tables everywhere", "[tokenizer][unicode]") {
  using namespace detail::unicode16;
  std::size_t letters = 0, numbers = 0, spaces = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    CharClass want = CharClass::other;
    if (detail::in_ranges(cp, letter_ranges, std::size(letter_ranges))) want = CharClass::letter;
    else if (detail::in_ranges(cp, number_ranges, std::size(number_ranges))) want = CharClass::number;
    else if (detail::in_ranges(cp, white_space_ranges, std::size(white_space_ranges))) want = CharClass::space;
    if (classify(cp) != want) FAIL("code point " << std::hex << std::uint32_t(cp));
    letters += want == CharClass::letter;
    numbers += want == CharClass::number;
    spaces += want == CharClass::space;
  }
  // The counts of Unicode 16.0.0's DerivedGeneralCategory / PropList.
  CHECK(letters == 141028);
  CHECK(numbers == 1911);
  CHECK(spaces == 25);
}

TEST_CASE("Pre-tokenizer: GPT-2's pattern, alternative by alternative", "[tokenizer][pretokenizer]") {
  CHECK(pretokenize("") == Pieces{});
  CHECK(pretokenize("I'm 토큰 123!!  ok\n") == Pieces{"I", "'m", " 토큰", " 123", "!!", " ", " ok", "\n"});
  // Contractions are lower case only.
  CHECK(pretokenize("it's IT'S they'RE") == Pieces{"it", "'s", " IT", "'", "S", " they", "'", "RE"});
  CHECK(pretokenize("'sx ''s '") == Pieces{"'s", "x", " ''", "s", " '"});
  CHECK(pretokenize("we'll'd") == Pieces{"we", "'ll", "'d"});
  // One optional U+0020 only; other spaces stand alone before a word.
  CHECK(pretokenize("a\tb") == Pieces{"a", "\t", "b"});
  CHECK(pretokenize("a\u3000b") == Pieces{"a", "\u3000", "b"});
  CHECK(pretokenize("a \tb") == Pieces{"a", " ", "\t", "b"});
  CHECK(pretokenize("a\t b") == Pieces{"a", "\t", " b"});
  // \s+(?!\S): a run gives back its last character to the word after it.
  CHECK(pretokenize("a   b") == Pieces{"a", "  ", " b"});
  CHECK(pretokenize("a\n\n\nb") == Pieces{"a", "\n\n", "\n", "b"});
  CHECK(pretokenize("end   ") == Pieces{"end", "   "});
  CHECK(pretokenize("x\u0085y") == Pieces{"x", "\u0085", "y"});
  CHECK(pretokenize("x\uFEFFy") == Pieces{"x", "\uFEFF", "y"});  // BOM: "other", not space
  CHECK(pretokenize(" \uFEFF") == Pieces{" \uFEFF"});
  // Letters, numbers and others never share a piece.
  CHECK(pretokenize("abc123def") == Pieces{"abc", "123", "def"});
  CHECK(pretokenize("e\u0301") == Pieces{"e", "\u0301"});  // a combining mark is "other"
  CHECK(pretokenize(" ½٣ x") == Pieces{" ½٣", " x"});
  CHECK(pretokenize("👍🏽!") == Pieces{"👍🏽!"});
}

TEST_CASE("Pre-tokenizer pieces always cover the input exactly", "[tokenizer][pretokenizer]") {
  const std::string samples[] = {"", " ", "  ", "\xFF", " \xFF", "a\xE3\x81", "'", "' ", "\n \n", "x  \t  y"};
  for (const auto& s : samples) {
    std::string joined;
    for (auto p : pretokenize(s)) {
      CHECK_FALSE(p.empty());
      joined += p;
    }
    CHECK(joined == s);
  }
}
