// The recipe's JSONL files (jsonl.hpp): rows written and read back unchanged, and every bad
// row refused with an error naming the file, the line and the field.
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/char_tokenizer.hpp>
#include <minigpt/jsonl.hpp>

#include <string>
#include <vector>

using namespace minigpt;

namespace jsonl_test {

// What parsing `text` threw: the JsonlError's line and key, or line −1 when it was another
// FileError (a whole-file problem), or line −2 when nothing was thrown.
struct Caught {
  Index line = -2;
  std::string key, message;
};

template <typename F>
Caught caught(F&& parse) {
  Caught c;
  try {
    parse();
  } catch (const JsonlError& e) {
    c.line = e.line();
    c.key = e.key();
    c.message = e.what();
    CHECK(e.where() == "data/x.jsonl");
  } catch (const FileError& e) {
    c.line = -1;
    c.message = e.what();
    CHECK(e.where() == "data/x.jsonl");
  }
  return c;
}

const std::string good = R"({"prompt":"Q: a?\nA:","completion":" b\n"})";

}  // namespace jsonl_test

namespace jt = jsonl_test;

TEST_CASE("JSONL rows are written and read back unchanged, UTF-8 and escapes included", "[jsonl]") {
  const std::vector<SFTExample> sft{{"Q: Where does Mina Park live?\nA:", " Busan\n"},
                                    {"Q: \"quoted\" \\ back\tslash?\nA:", " 토큰 \xF0\x9F\x98\x80\n"}};
  const std::vector<PreferencePair> prefs{{"Q: 3 + 4?\nA:", " 7\n", " I don't know.\n"}};
  const std::vector<EvalExample> eval{{"Q: Where does Mina Park live?\nA:", "Busan", "Mina Park", 0},
                                      {"Q: What is 3 + 4?\nA:", "7", "", -1},
                                      {"Q: When was Omar Novak born?\nA:", "May", "Omar Novak", 12}};
  const std::string dir = test::temp_dir("jsonl_roundtrip");
  write_sft_jsonl(dir + "/sft.jsonl", sft);
  write_preferences_jsonl(dir + "/p.jsonl", prefs);
  write_eval_jsonl(dir + "/eval.jsonl", eval);
  CHECK(read_sft_jsonl(dir + "/sft.jsonl") == sft);
  CHECK(read_preferences_jsonl(dir + "/p.jsonl") == prefs);
  CHECK(read_eval_jsonl(dir + "/eval.jsonl") == eval);
  // TRL's field names, one object per line, UTF-8 unescaped, arithmetic rows without a person.
  const std::string text = test::file_bytes(dir + "/eval.jsonl");
  CHECK(text ==
        "{\"prompt\":\"Q: Where does Mina Park live?\\nA:\",\"answer\":\"Busan\",\"person\":\"Mina Park\",\"mentions\":0}\n"
        "{\"prompt\":\"Q: What is 3 + 4?\\nA:\",\"answer\":\"7\"}\n"
        "{\"prompt\":\"Q: When was Omar Novak born?\\nA:\",\"answer\":\"May\",\"person\":\"Omar Novak\",\"mentions\":12}\n");
  CHECK(test::file_bytes(dir + "/sft.jsonl").find("토큰") != std::string::npos);
  // Blank lines, CRLF line ends, extra fields and a null person are accepted.
  const auto rows = parse_eval_jsonl("\n{\"prompt\":\"p\",\"answer\":\"a\",\"person\":null,\"extra\":[1,2]}\r\n  \n", "e");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].person.empty());
  CHECK(rows[0].mentions == -1);
  CHECK(parse_sft_jsonl(jt::good + "\r\n" + jt::good, "s").size() == 2);
}

TEST_CASE("A bad JSONL row is an error naming the file, the line and the field", "[jsonl][bad_input]") {
  const std::string p = "data/x.jsonl";
  struct Case {
    const char* what;
    std::string text;
    Index line;
    const char* key;
    const char* says;
  };
  const std::vector<Case> sft_cases{
      {"malformed JSON", jt::good + "\n" + jt::good + "\n{\"prompt\": \"x\", \"completion\": }\n", 3, "", "malformed JSON"},
      {"not an object", jt::good + "\n[\"prompt\", \"completion\"]\n", 2, "", "JSON object"},
      {"missing field", jt::good + "\n{\"prompt\":\"x\"}\n", 2, "completion", "missing field"},
      {"wrong type", "{\"prompt\":\"x\",\"completion\":7}\n", 1, "completion", "expected a string, got number"},
      {"wrong type (null)", "{\"prompt\":null,\"completion\":\"y\"}\n", 1, "prompt", "expected a string, got null"},
      {"empty completion", jt::good + "\n\n" + "{\"prompt\":\"x\",\"completion\":\"\"}\n", 3, "completion", "is empty"},
      {"empty prompt", "{\"prompt\":\"\",\"completion\":\" y\\n\"}\n", 1, "prompt", "is empty"},
      {"invalid UTF-8 in a value", jt::good + "\n{\"prompt\":\"x\",\"completion\":\" \xFF y\"}\n", 2, "completion",
       "invalid UTF-8: byte 0xFF"},
      {"truncated UTF-8 in a value", "{\"prompt\":\"\xED\x95\",\"completion\":\"y\"}\n", 1, "prompt", "invalid UTF-8"},
      {"a surrogate encoded in UTF-8", "{\"prompt\":\"x\",\"completion\":\"\xED\xA0\x80\"}\n", 1, "completion",
       "invalid UTF-8: byte 0xED"},
      {"invalid UTF-8 outside strings", "{\"prompt\":\"x\",\"completion\":\"y\"}\xC0\n", 1, "", "invalid UTF-8: byte 0xC0"},
      {"a lone surrogate escape", "{\"prompt\":\"x\",\"completion\":\"\\ud800\"}\n", 1, "", "malformed JSON"},
      {"two objects on a line", jt::good + jt::good + "\n", 1, "", "malformed JSON"},
  };
  for (const Case& c : sft_cases) {
    INFO(c.what);
    const jt::Caught got = jt::caught([&] { parse_sft_jsonl(c.text, p); });
    CHECK(got.line == c.line);
    CHECK(got.key == c.key);
    CHECK_THAT(got.message, Catch::Contains(c.says));
    CHECK_THAT(got.message, Catch::Contains(p + ": line " + std::to_string(c.line)));
    if (*c.key != '\0') CHECK_THAT(got.message, Catch::Contains(std::string("\"") + c.key + "\""));
  }
  // An empty file, or one of blank lines only, has no rows.
  for (const std::string& text : {std::string(), std::string("\n\n  \n")}) {
    const jt::Caught got = jt::caught([&] { parse_sft_jsonl(text, p); });
    CHECK(got.line == -1);
    CHECK_THAT(got.message, Catch::Contains("no rows"));
  }

  const std::vector<Case> pref_cases{
      {"missing rejected", "{\"prompt\":\"x\",\"chosen\":\"a\"}\n", 1, "rejected", "missing field"},
      {"empty chosen", "{\"prompt\":\"x\",\"chosen\":\"\",\"rejected\":\"b\"}\n", 1, "chosen", "is empty"},
      {"chosen equals rejected", "{\"prompt\":\"x\",\"chosen\":\"a\",\"rejected\":\"a\"}\n", 1, "rejected", "same text"},
      {"wrong type", "{\"prompt\":\"x\",\"chosen\":[\"a\"],\"rejected\":\"b\"}\n", 1, "chosen", "got array"},
  };
  for (const Case& c : pref_cases) {
    INFO(c.what);
    const jt::Caught got = jt::caught([&] { parse_preferences_jsonl(c.text, p); });
    CHECK(got.line == c.line);
    CHECK(got.key == c.key);
    CHECK_THAT(got.message, Catch::Contains(c.says));
  }

  const std::string ok = "{\"prompt\":\"x\",\"answer\":\"a\",\"person\":\"Mina Park\",\"mentions\":3}\n";
  const std::vector<Case> eval_cases{
      {"missing answer", ok + "{\"prompt\":\"x\",\"person\":\"P\",\"mentions\":3}\n", 2, "answer", "missing field"},
      {"person without mentions", "{\"prompt\":\"x\",\"answer\":\"a\",\"person\":\"P\"}\n", 1, "mentions", "missing field"},
      {"mentions without person", "{\"prompt\":\"x\",\"answer\":\"a\",\"mentions\":2}\n", 1, "person", "missing field"},
      {"negative mentions", "{\"prompt\":\"x\",\"answer\":\"a\",\"person\":\"P\",\"mentions\":-1}\n", 1, "mentions", ">= 0"},
      {"fractional mentions", "{\"prompt\":\"x\",\"answer\":\"a\",\"person\":\"P\",\"mentions\":2.5}\n", 1, "mentions",
       "expected an integer"},
      {"mentions as text", "{\"prompt\":\"x\",\"answer\":\"a\",\"person\":\"P\",\"mentions\":\"2\"}\n", 1, "mentions",
       "expected an integer, got string"},
      {"huge mentions", "{\"prompt\":\"x\",\"answer\":\"a\",\"person\":\"P\",\"mentions\":18446744073709551615}\n", 1,
       "mentions", "too large"},
      {"empty person", "{\"prompt\":\"x\",\"answer\":\"a\",\"person\":\"\",\"mentions\":1}\n", 1, "person", "is empty"},
  };
  for (const Case& c : eval_cases) {
    INFO(c.what);
    const jt::Caught got = jt::caught([&] { parse_eval_jsonl(c.text, p); });
    CHECK(got.line == c.line);
    CHECK(got.key == c.key);
    CHECK_THAT(got.message, Catch::Contains(c.says));
  }
}

TEST_CASE("JSONL rows are checked against a tokenizer and the block size", "[jsonl][bad_input]") {
  const CharTokenizer tok = CharTokenizer::from_text("QA: ?\nabcdefgh'");
  JsonlLimits limits{&tok, 12};
  // "Q: abc?\nA:" is 10 characters: with " a\n" 13 > 12.
  const std::string p = "data/x.jsonl";
  jt::Caught got = jt::caught([&] {
    parse_sft_jsonl("{\"prompt\":\"Q: ab?\\nA:\",\"completion\":\" a\\n\"}\n"
                    "{\"prompt\":\"Q: abc?\\nA:\",\"completion\":\" a\\n\"}\n",
                    p, limits);
  });
  CHECK(got.line == 2);
  CHECK(got.key == "completion");
  CHECK_THAT(got.message, Catch::Contains("10 + 3 tokens, past the block size 12"));
  // A prompt of 12 tokens leaves no room for an answer.
  got = jt::caught([&] { parse_sft_jsonl("{\"prompt\":\"Q: abcdefgh?\",\"completion\":\" a\"}\n", p, limits); });
  CHECK(got.line == 1);
  CHECK(got.key == "prompt");
  CHECK_THAT(got.message, Catch::Contains("is 12 tokens, past the block size 12"));
  // A character the vocabulary lacks.
  got = jt::caught([&] { parse_sft_jsonl("{\"prompt\":\"Q: a?\",\"completion\":\" z\"}\n", p, limits); });
  CHECK(got.key == "completion");
  CHECK_THAT(got.message, Catch::Contains("cannot be tokenized"));
  // Preferences: the longer of the two answers decides.
  got = jt::caught([&] {
    parse_preferences_jsonl("{\"prompt\":\"Q: a?\\nA:\",\"chosen\":\" a\\n\",\"rejected\":\" abcdefgh\\n\"}\n", p, limits);
  });
  CHECK(got.key == "rejected");
  // Eval rows: the completion " <answer>\n" must fit too.
  got = jt::caught([&] { parse_eval_jsonl("{\"prompt\":\"Q: a?\\nA:\",\"answer\":\"abcdef\"}\n", p, limits); });
  CHECK(got.key == "answer");
  CHECK_THAT(got.message, Catch::Contains("8 + 8 tokens"));
  // Rows that fit pass, right at the limit.
  CHECK(parse_sft_jsonl("{\"prompt\":\"Q: ab?\\nA:\",\"completion\":\" a\\n\"}\n", p, limits).size() == 1);
  CHECK(parse_eval_jsonl("{\"prompt\":\"Q: a?\\nA:\",\"answer\":\"ab\"}\n", p, limits).size() == 1);
}

TEST_CASE("JSONL files: a missing file names it and rows with invalid UTF-8 are not written", "[jsonl][bad_input]") {
  const std::string dir = test::temp_dir("jsonl_bad");
  CHECK_THROWS_AS(read_sft_jsonl(dir + "/missing.jsonl"), FileError);
  const std::string path = dir + "/sft.jsonl";
  write_sft_jsonl(path, {{"p", "c"}});
  CHECK_THROWS_AS(write_sft_jsonl(path, {{"p", "c"}, {"p", "\xFF"}}), ArgumentError);
  CHECK(test::file_bytes(path) == "{\"prompt\":\"p\",\"completion\":\"c\"}\n");  // the old file, untouched
  CHECK_THROWS_AS(write_eval_jsonl(path, {{"p", "a", "Mina Park", -1}}), ArgumentError);
  // A line past the file's last newline is still a row; a file that ends inside a row is malformed.
  const std::string cut = jt::good.substr(0, jt::good.size() - 5);
  std::string partial = jt::good + "\n" + cut;
  jt::Caught got = jt::caught([&] { parse_sft_jsonl(partial, "data/x.jsonl"); });
  CHECK(got.line == 2);
  CHECK_THAT(got.message, Catch::Contains("malformed JSON"));
}
