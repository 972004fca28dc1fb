// Tests of the character-level tokenizer (one id per character).
#include <minigpt/char_tokenizer.hpp>
#include <minigpt/load_tokenizer.hpp>

#include <catch2/catch.hpp>
#include "common.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

using namespace minigpt;

namespace {
}  // namespace

TEST_CASE("Characters are numbered in code point order", "[tokenizer][char]") {
  const auto tok = CharTokenizer::from_text("hello");
  CHECK(tok.vocab_size() == 4);  // e h l o
  CHECK(tok.encode("hole") == std::vector<TokenId>{1, 3, 2, 0});
  CHECK(tok.decode({1, 0, 2, 2, 3}) == "hello");
  CHECK_THROWS_WITH(tok.encode("help"), Catch::Contains("'p'") && Catch::Contains("byte 3"));
  CHECK_THROWS_WITH(tok.decode({4}), Catch::Contains("token id 4"));
  CHECK(tok.kind() == "char");
  CHECK(tok.special_tokens().empty());
  CHECK_THROWS_AS(CharTokenizer::from_text(""), ArgumentError);
}

TEST_CASE("Tiny Shakespeare has nanoGPT's 65 characters", "[tokenizer][char]") {
  const std::string text = detail::read_file(test::data("tinyshakespeare.txt"));
  const auto tok = CharTokenizer::from_text(text);
  CHECK(tok.vocab_size() == 65);
  CHECK(tok.token_bytes(0) == "\n");
  CHECK(tok.token_bytes(1) == " ");
  CHECK(tok.token_bytes(64) == "z");
  // nanoGPT's shakespeare_char: "hii there" -> [46, 47, 47, 1, 58, 46, 43, 56, 43]
  CHECK(tok.encode("hii there") == std::vector<TokenId>{46, 47, 47, 1, 58, 46, 43, 56, 43});
  const auto ids = tok.encode(text);
  CHECK(ids.size() == text.size());
  CHECK(tok.decode(ids) == text);
}

TEST_CASE("Multi-byte characters and invalid bytes are one token each", "[tokenizer][char]") {
  const std::string text = "토큰 ≠ 단어 😀 \xFF\xFE";
  const auto tok = CharTokenizer::from_text(text);
  const auto ids = tok.encode(text);
  CHECK(ids.size() == 12);  // 토 큰 ' ' ≠ ' ' 단 어 ' ' 😀 ' ' \xFF \xFE
  CHECK(tok.decode(ids) == text);
  CHECK(tok.token_bytes(ids[0]) == "토");
  CHECK(tok.token_bytes(tok.vocab_size() - 1) == "\xFF");  // raw bytes come last
}

TEST_CASE("Char vocabulary saves to char_vocab.json and loads back", "[tokenizer][char]") {
  const std::string dir = test::temp_dir("save");
  const std::string text = "Hello, 세계! \n\t\xC3 😀";
  const auto tok = CharTokenizer::from_text(text);
  tok.save(dir);
  const std::string saved = detail::read_file(dir + "/char_vocab.json");
  const auto json = nlohmann::json::parse(saved);  // readable by any JSON reader
  CHECK(json.at("type") == "char");
  CHECK(json.at("vocab_size") == tok.vocab_size());
  CHECK(json.at("chars").back() == 0xC3);  // a raw byte is stored as a number
  const auto back = load_tokenizer(dir);
  CHECK(back->vocab_size() == tok.vocab_size());
  CHECK(back->encode(text) == tok.encode(text));
  CHECK(back->decode(tok.encode(text)) == text);
}

TEST_CASE("Bad char_vocab.json files are FileErrors naming the field", "[tokenizer][char]") {
  const std::string dir = test::temp_dir("bad");
  auto error = [&](const std::string& content) -> std::string {
    detail::write_file_atomic(dir + "/char_vocab.json", content);
    try {
      CharTokenizer::load(dir + "/char_vocab.json");
    } catch (const FileError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error("{\"type\": \"char\", \"chars\": [\"a\""), Catch::Contains("malformed JSON"));
  CHECK_THAT(error("{\"type\": \"bpe\", \"chars\": []}"), Catch::Contains("type"));
  CHECK_THAT(error("{\"type\": \"char\"}"), Catch::Contains("chars"));
  CHECK_THAT(error("{\"type\": \"char\", \"chars\": []}"), Catch::Contains("is empty"));
  CHECK_THAT(error("{\"type\": \"char\", \"chars\": [\"ab\"]}"), Catch::Contains("chars[0]") && Catch::Contains("exactly one character"));
  CHECK_THAT(error("{\"type\": \"char\", \"chars\": [\"a\", \"a\"]}"), Catch::Contains("chars[1]") && Catch::Contains("twice"));
  CHECK_THAT(error("{\"type\": \"char\", \"chars\": [\"a\", 65]}"), Catch::Contains("chars[1]"));
  CHECK_THAT(error("{\"type\": \"char\", \"chars\": [\"a\", null]}"), Catch::Contains("chars[1]"));
  CHECK_THAT(error("{\"type\": \"char\", \"vocab_size\": 3, \"chars\": [\"a\"]}"), Catch::Contains("vocab_size"));
  CHECK(error("{\"type\": \"char\", \"vocab_size\": 2, \"chars\": [\"a\", 200]}") == "");
}
