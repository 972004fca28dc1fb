// The tokenize program, run as a user runs it: OpenAI's ids for the committed samples through
// encode, the samples' bytes back through decode, a trained tokenizer used through --model,
// and one clear line for bad input.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <sstream>

using Catch::Matchers::Contains;

namespace {

std::vector<long long> parse_ids(const std::string& s) {
  std::vector<long long> ids;
  std::istringstream in(s);
  for (long long id; in >> id;) ids.push_back(id);
  return ids;
}

const char* const samples[] = {"english", "korean", "code", "emoji", "whitespace"};

std::string gpt2_files() {
  return "--vocab " + test::data("gpt2/encoder.json") + " --merges " + test::data("gpt2/vocab.bpe");
}

}  // namespace

TEST_CASE("tokenize encode and decode: OpenAI's ids for every sample, and its bytes back", "[programs][tokenizer]") {
  for (const char* name : samples) {
    INFO("sample " << name);
    const std::string text = test::data(std::string("gpt2/samples/") + name + ".txt");
    const std::string ids = text + ".ids";
    const test::Run enc = test::run_program("tokenize", "encode " + gpt2_files() + " < " + text);
    REQUIRE(enc.status == 0);
    // one line of ids separated by single spaces
    CHECK(std::count(enc.out.begin(), enc.out.end(), '\n') == 1);
    CHECK(enc.out.find("  ") == std::string::npos);
    CHECK(parse_ids(enc.out) == parse_ids(test::file_bytes(ids)));

    const test::Run dec = test::run_program("tokenize", "decode " + gpt2_files() + " < " + ids);
    REQUIRE(dec.status == 0);
    CHECK(dec.out == test::file_bytes(text));
  }
}

TEST_CASE("tokenize encode: special tokens are text unless allowed, and invalid UTF-8 round-trips",
          "[programs][tokenizer]") {
  const std::string dir = test::scratch("tokenize-special");
  {
    std::ofstream(dir + "/eot.txt", std::ios::binary) << "Hi<|endoftext|>";
    std::ofstream(dir + "/bytes.txt", std::ios::binary) << "a\xff\xc3(b\xed\xa0\x80";
  }
  const test::Run plain = test::run_program("tokenize", "encode < " + dir + "/eot.txt");
  const test::Run allowed = test::run_program("tokenize", "encode --allow-special < " + dir + "/eot.txt");
  REQUIRE(plain.status == 0);
  REQUIRE(allowed.status == 0);
  // tiktoken (gpt2): "Hi<|endoftext|>" is 17250 27 91 437 1659 5239 91 29 as text, 17250 50256 allowed
  CHECK(parse_ids(plain.out) == std::vector<long long>{17250, 27, 91, 437, 1659, 5239, 91, 29});
  CHECK(parse_ids(allowed.out) == std::vector<long long>{17250, 50256});

  const test::Run bytes = test::run_program("tokenize", "encode < " + dir + "/bytes.txt");
  REQUIRE(bytes.status == 0);
  {
    std::ofstream(dir + "/bytes.ids") << bytes.out;
  }
  const test::Run back = test::run_program("tokenize", "decode < " + dir + "/bytes.ids");
  REQUIRE(back.status == 0);
  CHECK(back.out == test::file_bytes(dir + "/bytes.txt"));
}

TEST_CASE("tokenize train writes a Hugging Face tokenizer that --model and the library read alike",
          "[programs][tokenizer]") {
  const std::string dir = test::scratch("tokenize-train");
  const std::string corpus = test::data("tinyshakespeare.txt");
  const test::Run train =
      test::run_program("tokenize", "train --input " + corpus + " --vocab-size 400 --out " + dir + "/bpe");
  REQUIRE(train.status == 0);
  auto tok = minigpt::load_tokenizer(dir + "/bpe");
  CHECK(tok->vocab_size() == 400);  // 256 bytes, 143 merges, <|endoftext|>

  const std::string text = "ROMEO:\nBut, soft! what light through yonder window breaks?";
  {
    std::ofstream(dir + "/in.txt", std::ios::binary) << text;
  }
  const test::Run enc = test::run_program("tokenize", "encode --model " + dir + "/bpe < " + dir + "/in.txt");
  REQUIRE(enc.status == 0);
  std::vector<long long> expected;
  for (auto id : tok->encode(text)) expected.push_back(id);
  CHECK(parse_ids(enc.out) == expected);
  CHECK(expected.size() < text.size());  // the merges fired

  // show: each piece with its merges, ending with the same count of tokens
  const test::Run show = test::run_program("tokenize", "show --model " + dir + "/bpe \"" + "light through\"");
  REQUIRE(show.status == 0);
  CHECK_THAT(show.out, Contains("piece [ through]"));
  CHECK_THAT(show.out, Contains("merge rank 0:"));
}

TEST_CASE("tokenize answers bad input with one line naming it", "[programs][tokenizer]") {
  const test::Run missing =
      test::run_program("tokenize", "encode --vocab no-such.json --merges " + test::data("gpt2/vocab.bpe") + " < /dev/null");
  CHECK(missing.status != 0);
  CHECK_THAT(missing.out, Contains("no-such.json"));

  const std::string dir = test::scratch("tokenize-bad");
  {
    std::ofstream(dir + "/ids.txt") << "1 2 99999\n";
    std::ofstream(dir + "/words.txt") << "1 two\n";
  }
  const test::Run range = test::run_program("tokenize", "decode < " + dir + "/ids.txt");
  CHECK(range.status != 0);
  CHECK_THAT(range.out, Contains("99999"));
  const test::Run words = test::run_program("tokenize", "decode < " + dir + "/words.txt");
  CHECK(words.status != 0);
  CHECK_THAT(words.out, Contains("two"));

  const test::Run flag = test::run_program("tokenize", "encode --allow-specal < /dev/null");
  CHECK(flag.status != 0);
  CHECK_THAT(flag.out, Contains("--allow-specal"));
}
