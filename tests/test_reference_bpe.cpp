// BPETokenizer against the deliberately simple, educational BPE of include/minigpt/bpe_educational.hpp (the
// one the encode fuzzer uses too). First the reference itself is checked against tiktoken's
// committed ids, so that the two cannot agree on a wrong answer; then both run on texts built
// to reach every path of the fast tokenizer: short and long pieces (the heap past 128 bytes),
// whole-token look-ups, invalid UTF-8, every class of character.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/bpe_educational.hpp>
#include <minigpt/bpe_tokenizer.hpp>

#include <dirent.h>

#include <random>
#include <sstream>

using namespace minigpt;

namespace {

const EducationalBPE& reference() {
  static const EducationalBPE r(test::data("gpt2/encoder.json"), test::data("gpt2/vocab.bpe"));
  return r;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Random text from a palette that reaches every class of character and every path.
std::string random_text(std::mt19937_64& rng, std::size_t pieces) {
  static const std::vector<std::string> palette = {
      "a", "e", "t", "the", " the", "ing", "Hello", " world", "'s", "'ll", "'RE", "'", " ", "  ", "\t", "\n", "\r\n",
      "\u00a0", "\u3000", "\u0085", "\ufeff", "0", "12", "345", "\u0663", "\u2167", "!", "?!", "...", "(", "{}", "->",
      "토", "큰", "한국어", "日本", "中文", "\u0645\u0631", "\u0915\u093f", "\u0e01", "e\u0301", "👍", "🏽", "\u200d",
      "🇰🇷", "<|endoftext|>", "\xff", "\xc3", "\xe0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", std::string(1, '\0'), "\x7f"};
  std::string s;
  std::uniform_int_distribution<std::size_t> pick(0, palette.size() - 1), reps(1, 3);
  for (std::size_t i = 0; i < pieces; ++i) {
    const std::string& p = palette[pick(rng)];
    for (std::size_t r = reps(rng); r > 0; --r) s += p;
  }
  return s;
}

}  // namespace

TEST_CASE("the reference BPE gives tiktoken's ids on the committed samples", "[tokenizer][reference]") {
  REQUIRE(reference().merge_count() == 50000);
  std::size_t checked = 0;
  for (const std::string& dir : {test::data("gpt2/samples"), test::data("tokenizer/texts")})
    for (const std::string& path : files_in(dir)) {
      if (path.size() < 4 || path.compare(path.size() - 4, 4, ".txt") != 0) continue;
      INFO(path);
      CHECK(reference().encode(detail::read_file(path)) == test::read_ids(path + ".ids"));
      ++checked;
    }
  CHECK(checked >= 9);
  const auto cases = test::read_json(test::data("tokenizer/cases.json"))["cases"];
  REQUIRE(cases.size() > 100);
  for (const auto& c : cases) {
    INFO(c["name"].get<std::string>());
    CHECK(reference().encode(c["text"].get<std::string>()) == c["ordinary"].get<std::vector<TokenId>>());
  }
}

TEST_CASE("BPETokenizer equals the reference BPE on texts that reach every path", "[tokenizer][reference]") {
  std::vector<std::string> texts;
  // The fuzzer's seeds: invalid UTF-8, long runs of one letter, space and emoji, specials.
  for (const std::string& path : files_in(std::string(MINIGPT_TEST_DATA) + "/../fuzz/corpus/encode"))
    texts.push_back(detail::read_file(path));
  REQUIRE(texts.size() >= 10);
  // Long pieces: the heap path (> 128 bytes) against the reference's plain scan.
  texts.push_back(std::string(1000, 'a'));
  texts.push_back(" " + std::string(700, 'z') + "y");
  texts.push_back(std::string(129, '7') + std::string(300, ' ') + "x");
  std::string emoji;
  for (int i = 0; i < 80; ++i) emoji += "👍🏽";
  texts.push_back(emoji);
  std::string mixed_letters;
  for (int i = 0; i < 60; ++i) mixed_letters += "abcdefghijklmnopqrstuvwxyz"[i * 7 % 26];
  texts.push_back(" " + mixed_letters + mixed_letters + mixed_letters);
  // A slice of real prose.
  texts.push_back(detail::read_file(test::data("tinyshakespeare.txt")).substr(0, 20000));
  // Random mixtures, seeded.
  std::mt19937_64 rng(20240501);
  for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng, 1 + i % 60));

  for (const std::string& text : texts) {
    const std::vector<TokenId> ids = test::gpt2_tokenizer().encode(text);
    const std::vector<TokenId> want = reference().encode(text);
    if (ids != want) FAIL_CHECK("ids differ from the reference BPE on: " << text);
    if (test::gpt2_tokenizer().decode(ids) != text) FAIL_CHECK("round trip fails on: " << text);
  }
}

TEST_CASE("the educational BPE shows its work, merge by merge, as its header's example says", "[tokenizer][reference]") {
  // The header's worked example: " tokens" and "토큰", through GPT-2's own files.
  const auto steps = reference().merge_steps(" tokens");
  auto joined = [](const std::vector<std::string>& word) {
    std::string s;
    for (const std::string& w : word) s += (s.empty() ? "" : " ") + w;
    return s;
  };
  std::vector<std::string> shown;
  for (const auto& w : steps) shown.push_back(joined(w));
  CHECK(shown == std::vector<std::string>{"Ġ t o k e n s", "Ġt o k e n s", "Ġt o k en s", "Ġto k en s", "Ġto k ens",
                                          "Ġto kens", "Ġtokens"});
  CHECK(reference().merge_steps("토큰").size() == 1);  // six byte symbols; no merge applies
  CHECK(reference().encode(" tokens") == std::vector<TokenId>{16326});
  CHECK(reference().encode("토큰") == std::vector<TokenId>{169, 228, 254, 169, 223, 108});
  // Each step joins exactly one kind of pair: the word never grows, and ends as the ids' strings.
  for (std::size_t i = 1; i < steps.size(); ++i) CHECK(steps[i].size() < steps[i - 1].size());
  CHECK(test::gpt2_tokenizer().encode(" tokens") == reference().encode(" tokens"));
}
