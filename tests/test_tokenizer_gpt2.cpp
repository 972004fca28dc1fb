// Tests of the GPT-2 byte-level BPE tokenizer against OpenAI's ids.
// References: tests/data/gpt2/samples (ids from OpenAI's tokenizer) and tests/data/tokenizer
// (the wide set; ids made by tests/tokenizer/make_references.mjs with npm tiktoken, "gpt2").
#include <minigpt/bpe_tokenizer.hpp>
#include <minigpt/load_tokenizer.hpp>

#include <catch2/catch.hpp>
#include "common.hpp"
#include <nlohmann/json.hpp>

#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace minigpt;

namespace {


std::vector<TokenId> ids_of(const nlohmann::json& a) { return a.get<std::vector<TokenId>>(); }

}  // namespace

TEST_CASE("GPT-2 vocabulary loads with its shape", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  CHECK(tok.vocab_size() == 50257);
  CHECK(tok.merges().size() == 50000);
  CHECK(tok.kind() == "bpe");
  REQUIRE(tok.special_tokens().size() == 1);
  CHECK(tok.special_tokens()[0].first == "<|endoftext|>");
  CHECK(tok.special_token("<|endoftext|>") == std::optional<TokenId>(50256));
  CHECK(tok.token_bytes(995) == " world");
  CHECK(tok.token_spelling(995) == "\xC4\xA0world");  // "Ġworld"
  CHECK(tok.byte_token('!') == 0);
  CHECK(tok.byte_token(' ') == 220);
  CHECK(tok.merge_result(0) == 256);  // rank r makes id 256 + r in GPT-2's files
  CHECK(tok.ranks_monotone());
}

TEST_CASE("GPT-2 ids equal OpenAI's on the samples", "[tokenizer][gpt2]") {
  for (const char* name : {"english", "korean", "code", "emoji", "whitespace"}) {
    INFO(name);
    const std::string text = detail::read_file(test::data("gpt2/samples/") + name + ".txt");
    const auto want = test::read_ids(test::data("gpt2/samples/") + name + ".txt.ids");
    const auto got = test::gpt2_tokenizer().encode(text);
    CHECK(got == want);
    CHECK(test::gpt2_tokenizer().decode(got) == text);
  }
}

TEST_CASE("GPT-2 ids equal the reference on the longer texts", "[tokenizer][gpt2]") {
  for (const char* name : {"korean", "multilingual", "code", "whitespace"}) {
    INFO(name);
    const std::string text = detail::read_file(test::data("tokenizer/texts/") + name + ".txt");
    const auto want = test::read_ids(test::data("tokenizer/texts/") + name + ".txt.ids");
    CHECK(test::gpt2_tokenizer().encode(text) == want);
    CHECK(test::gpt2_tokenizer().decode(want) == text);
  }
}

TEST_CASE("GPT-2 ids equal the reference on the wide set", "[tokenizer][gpt2]") {
  const auto doc = nlohmann::json::parse(detail::read_file(test::data("tokenizer/cases.json")));
  const auto& cases = doc.at("cases");
  REQUIRE(cases.size() > 200);
  std::size_t checked = 0;
  for (const auto& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    const std::string text = c.at("text").get<std::string>();
    INFO(name);
    CHECK(test::gpt2_tokenizer().encode(text) == ids_of(c.at("ordinary")));
    CHECK(test::gpt2_tokenizer().encode_with_special(text) == ids_of(c.at("special")));
    CHECK(test::gpt2_tokenizer().decode(test::gpt2_tokenizer().encode(text)) == text);
    ++checked;
  }
  CHECK(checked == cases.size());
}

TEST_CASE("Letters are Unicode 16.0's: new in 16 count, new in 17 do not yet", "[tokenizer][gpt2]") {
  // After a letter, "'s" is a piece of its own and one token (338). After an "other"
  // character the apostrophe joins that character's run and "s" is left alone.
  const auto& tok = test::gpt2_tokenizer();
  CHECK(tok.encode("\U000105C0's").back() == 338);  // TODHRI LETTER A, new in Unicode 16.0
  CHECK(tok.encode("\U00010D40's").back() == 338);  // GARAY DIGIT ZERO, new in Unicode 16.0
  CHECK(tok.encode("\U00010940's").back() != 338);  // SIDETIC, new in Unicode 17.0: "other" here
  CHECK(tok.encode("\u00E9's").back() == 338);       // an old letter, for comparison
  // The reference set has such cases for every new script (checked in the wide-set test).
}

TEST_CASE("Special tokens are text unless allowed", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  const std::string eot = "<|endoftext|>";
  CHECK(tok.encode(eot) == std::vector<TokenId>{27, 91, 437, 1659, 5239, 91, 29});
  CHECK(tok.encode_with_special(eot) == std::vector<TokenId>{50256});
  CHECK(tok.encode_with_special("a" + eot + eot + "b") == std::vector<TokenId>{64, 50256, 50256, 65});
  CHECK(tok.decode({50256}) == eot);
}

TEST_CASE("Decode returns raw bytes, never U+FFFD", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  const auto ids = tok.encode("토큰");
  REQUIRE(ids.size() == 6);  // 토큰 ≠ one token: two syllables, six bytes, six tokens
  std::string joined;
  for (TokenId id : ids) {
    const std::string part = tok.decode({id});
    CHECK(part.find("\xEF\xBF\xBD") == std::string::npos);  // no replacement character
    joined += part;
  }
  CHECK(joined == "토큰");
  // A token that is half a character decodes to exactly that half.
  CHECK(tok.decode({tok.byte_token(0xED)}) == "\xED");
}

TEST_CASE("Ids out of range are an error naming the id", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  CHECK_THROWS_AS(tok.decode({50257}), ArgumentError);
  CHECK_THROWS_WITH(tok.decode({15496, 50257}), Catch::Contains("50257"));
  CHECK_THROWS_WITH(tok.decode({-1}), Catch::Contains("-1"));
  CHECK_THROWS_AS(tok.token_bytes(1 << 30), ArgumentError);
}

TEST_CASE("Invalid UTF-8 round-trips and splits as documented", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  // Each invalid byte is a character of class "other": it joins punctuation runs and an
  // optional leading space, and stands between letters.
  CHECK(pretokenize("a\xFF" "b") == std::vector<std::string_view>{"a", "\xFF", "b"});
  CHECK(pretokenize(" \xFF!?") == std::vector<std::string_view>{" \xFF!?"});
  CHECK(pretokenize("\xED\x9F") == std::vector<std::string_view>{"\xED\x9F"});  // truncated 3-byte
  CHECK(pretokenize("x\xC0\xAFy") == std::vector<std::string_view>{"x", "\xC0\xAF", "y"});  // overlong
  CHECK(pretokenize("\xED\xA0\x80 z") == std::vector<std::string_view>{"\xED\xA0\x80", " z"});  // surrogate
  for (const std::string s : {"\xFF", "\x80\x80\x80", "a\xFF" "b", "\xF4\x90\x80\x80", "\xE3\x81", "\xC3"}) {
    CHECK(tok.decode(tok.encode(s)) == s);
    CHECK(tok.decode(tok.encode_with_special(s)) == s);
  }
}

TEST_CASE("Any byte string round-trips", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::string s(rng() % 200, '\0');
    const unsigned alphabet = round % 3 == 0 ? 256 : round % 3 == 1 ? 8 : 128;
    for (auto& c : s) c = static_cast<char>(alphabet == 8 ? " a'\xED\x95\x9C\n!"[rng() % 8] : rng() % alphabet);
    INFO(round);
    REQUIRE(tok.decode(tok.encode(s)) == s);
    REQUIRE(tok.decode(tok.encode_with_special(s)) == s);
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  CHECK(tok.decode(tok.encode(all)) == all);
}

TEST_CASE("Long runs are encoded by the heap path, exactly and round-trip", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  // A megabyte of one letter, of spaces and of one emoji: each one giant piece. The check is
  // behavioural (it finishes, and round-trips); speed is measured by bench_tokenizer.
  const std::string letters(1 << 20, 'a');
  const auto ids = tok.encode(letters);
  CHECK(tok.decode(ids) == letters);
  std::string spaces(1 << 20, ' ');
  CHECK(tok.decode(tok.encode(spaces)) == spaces);
  std::string emoji;
  while (emoji.size() < (1u << 20)) emoji += "\xF0\x9F\x98\x80";
  CHECK(tok.decode(tok.encode(emoji)) == emoji);
  // The heap path gives the same ids as the small loop: pieces just over the threshold.
  for (std::size_t n : {BPETokenizer::kSmallPiece, BPETokenizer::kSmallPiece + 1, std::size_t(1000)}) {
    const std::string a(n, 'a');
    const auto pieces = tok.explain(a);
    REQUIRE(pieces.size() == 1);
    CHECK(tok.encode(a) == pieces[0].ids);
    // Periodic: "aaaa" 5 times ... the ids repeat.
    std::string word;
    for (std::size_t i = 0; i < n; ++i) word += "abcdefg hijk"[i % 12] == ' ' ? 'x' : "abcdefg hijk"[i % 12];
    const auto small = tok.explain(word);
    REQUIRE(small.size() == 1);
    CHECK(tok.encode(word) == small[0].ids);
  }
}

TEST_CASE("explain() shows the pieces and the merges in order", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  const auto pieces = tok.explain("Hello 토큰");
  REQUIRE(pieces.size() == 2);
  CHECK(pieces[0].bytes == "Hello");
  CHECK(pieces[0].ids == std::vector<TokenId>{15496});
  CHECK(pieces[1].bytes == " 토큰");
  CHECK(pieces[1].byte_tokens.size() == 7);
  // Replaying the merges in order turns the byte tokens into the ids.
  for (const auto& p : pieces) {
    std::vector<TokenId> s = p.byte_tokens;
    Index last_rank = -1;
    for (const auto& m : p.merges) {
      CHECK(m.rank > last_rank);  // ranks only grow within a piece (GPT-2's merges)
      last_rank = m.rank;
      CHECK(tok.merge_result(m.rank) == m.result);
      bool done = false;
      for (std::size_t i = 0; i + 1 < s.size() && !done; ++i)
        if (s[i] == m.left && s[i + 1] == m.right) {
          s[i] = m.result;
          s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
          done = true;
        }
      CHECK(done);
    }
    CHECK(s == p.ids);
  }
  const auto special = tok.explain("a<|endoftext|>b", true);
  REQUIRE(special.size() == 3);
  CHECK(special[1].special);
  CHECK(special[1].ids == std::vector<TokenId>{50256});
}

TEST_CASE("encode_batch gives the same ids as encode", "[tokenizer][gpt2]") {
  const auto& tok = test::gpt2_tokenizer();
  std::vector<std::string> docs = {"Hello world", "", "토큰 ≠ 단어", "x<|endoftext|>y", std::string(300, 'z')};
  const auto batch = tok.encode_batch(docs);
  REQUIRE(batch.size() == docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) CHECK(batch[i] == tok.encode(docs[i]));
}

TEST_CASE("load_tokenizer recognises OpenAI's file names", "[tokenizer][gpt2]") {
  const auto tok = load_tokenizer(test::data("gpt2"));
  CHECK(tok->vocab_size() == 50257);
  CHECK(tok->encode("Hello world") == std::vector<TokenId>{15496, 995});
  const auto same = load_tokenizer(test::data("gpt2/encoder.json"), test::data("gpt2/vocab.bpe"));
  CHECK(same->encode("Hello world") == std::vector<TokenId>{15496, 995});
}
