// Korean and the tokenizer (docs/korean.md): every figure the page quotes is measured here on
// the committed prose (tests/data/korean/), and the page must quote exactly what is measured,
// so it cannot drift from the text, the trainer or GPT-2's tokenizer. Hangul syllables are
// counted from the raw bytes, independently of the library's UTF-8 decoder.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/bpe_trainer.hpp>
#include <minigpt/pretokenizer.hpp>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using Catch::Matchers::Contains;

namespace {

// The code point of the 3-byte UTF-8 sequence at p (lead byte E0..EF), else -1.
long three_byte_code_point(const std::string& s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (i + 2 >= s.size() || (b(0) & 0xF0) != 0xE0 || (b(1) & 0xC0) != 0x80 || (b(2) & 0xC0) != 0x80) return -1;
  return static_cast<long>(((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F));
}

// Hangul syllables (U+AC00..U+D7A3) in UTF-8 text.
long hangul_syllables(const std::string& s) {
  long n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const long cp = three_byte_code_point(s, i);
    if (cp >= 0xAC00 && cp <= 0xD7A3) ++n, i += 2;
  }
  return n;
}

// The UTF-8 bytes of a code point below U+10000 and above U+07FF (three bytes), written out by hand.
std::string utf8_3(long cp) {
  return {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
          static_cast<char>(0x80 | (cp & 0x3F))};
}

long words(const std::string& s) {
  long n = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// 12345 -> "12,345", as the page writes counts.
std::string thousands(long long n) {
  std::string s = std::to_string(n);
  for (int at = static_cast<int>(s.size()) - 3; at > 0; at -= 3) s.insert(static_cast<std::size_t>(at), ",");
  return s;
}

// Every run of spaces and line breaks as one space.
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool space = c == ' ' || c == '\n';
    if (!space) out += c;
    else if (!out.empty() && out.back() != ' ') out += ' ';
  }
  return out;
}

struct TrainedBPE {
  long merges_asked = 0, merges = 0;
  double train = 0, heldout = 0;  // tokens per syllable
  long heldout_tokens = 0;
};

}  // namespace

TEST_CASE("Korean prose: GPT-2 spends about three tokens per Hangul syllable, a BPE trained on Korean about one, "
          "and docs/korean.md quotes the measured figures",
          "[tokenizer][korean][docs]") {
  using namespace minigpt;
  const std::string train = test::file_bytes(test::data("korean/train.txt"));
  const std::string heldout = test::file_bytes(test::data("korean/heldout.txt"));
  const std::string english = test::file_bytes(test::data("korean/heldout.en.txt"));
  const std::string page = test::file_bytes(std::string(MINIGPT_SOURCE_DIR) + "/docs/korean.md");
  REQUIRE(!page.empty());
  const BPETokenizer& gpt2 = test::gpt2_tokenizer();
  std::vector<std::string> quoted;  // what the page must say, built from the measurements

  // ---- one syllable: 3 bytes, and how many GPT-2 tokens alone ----
  long by_tokens[5] = {0, 0, 0, 0, 0};
  for (long cp = 0xAC00; cp <= 0xD7A3; ++cp) {
    const std::string bytes = utf8_3(cp);
    REQUIRE(bytes.size() == 3);
    REQUIRE(hangul_syllables(bytes) == 1);
    const std::size_t n = gpt2.encode(bytes).size();
    REQUIRE(n <= 4);
    ++by_tokens[n];
  }
  CHECK(by_tokens[1] == 0);  // no syllable is one GPT-2 token
  CHECK(by_tokens[2] + by_tokens[3] == 11172);
  quoted.push_back("Hangul has " + thousands(11172) + " precomposed syllables");
  quoted.push_back(thousands(by_tokens[2]) + " are two tokens and the other " + thousands(by_tokens[3]) +
                   " are three, one per byte.");

  // ---- the text ----
  const long syl_train = hangul_syllables(train), syl_heldout = hangul_syllables(heldout);
  CHECK(syl_train + syl_heldout >= 5000);  // "a few thousand syllables"
  quoted.push_back("| `train.txt` | 16 paragraphs: the trainer learns from these | " + thousands(syl_train) + " | " +
                   thousands(static_cast<long long>(train.size())) + " |");
  quoted.push_back("| `heldout.txt` | 4 paragraphs: never trained on, only measured | " + thousands(syl_heldout) + " | " +
                   thousands(static_cast<long long>(heldout.size())) + " |");
  quoted.push_back("| `heldout.en.txt` | the same 4 paragraphs in English | " + thousands(words(english)) + " words | " +
                   thousands(static_cast<long long>(english.size())) + " |");

  // ---- tokens per syllable: bytes, GPT-2 ----
  const double bytes_train = double(train.size()) / syl_train, bytes_heldout = double(heldout.size()) / syl_heldout;
  const long gpt2_heldout_tokens = static_cast<long>(gpt2.encode(heldout).size());
  const double gpt2_train = double(gpt2.encode(train).size()) / syl_train;
  const double gpt2_heldout = double(gpt2_heldout_tokens) / syl_heldout;
  // The range the page states for GPT-2, on both parts.
  CHECK(gpt2_train >= 2.9);
  CHECK(gpt2_train <= 3.0);
  CHECK(gpt2_heldout >= 2.9);
  CHECK(gpt2_heldout <= 3.0);
  quoted.push_back("spends between 2.9 and 3.0 tokens per syllable on this text, where its bytes alone would be " +
                   fixed(bytes_train, 2) + " per syllable.");
  CHECK(fixed(bytes_train, 2) == fixed(bytes_heldout, 2));  // the page gives one figure for both
  quoted.push_back("| UTF-8 bytes, no merges | 0 | " + fixed(bytes_train, 2) + " | " + fixed(bytes_heldout, 2) + " |");
  quoted.push_back("| GPT-2 | 50,000 | " + fixed(gpt2_train, 2) + " | " + fixed(gpt2_heldout, 2) + " |");

  // ---- English: the same paragraphs ----
  const long english_tokens = static_cast<long>(gpt2.encode(english).size());
  const double per_word = double(english_tokens) / words(english);
  const double korean_over_english = double(gpt2_heldout_tokens) / english_tokens;
  CHECK(korean_over_english > 3);
  quoted.push_back("bytes alone would be; on their English version they save " +
                   fixed(100 * (1 - double(english_tokens) / english.size()), 0) + "%.");
  quoted.push_back("its 50,000 merges save " + fixed(100 * (1 - double(gpt2_heldout_tokens) / heldout.size()), 0) +
                   "% of the tokens");
  quoted.push_back(thousands(words(english)) + " words, which GPT-2 turns into " + thousands(english_tokens) +
                   " tokens, " + fixed(per_word, 2) + " tokens per word. The same paragraphs in Korean take " +
                   thousands(gpt2_heldout_tokens) + " tokens: **" + fixed(korean_over_english, 2) +
                   " times as many tokens for the same content**.");

  // ---- BPEs trained on train.txt, measured on both parts ----
  std::set<std::string_view> pieces;
  for (std::string_view p : pretokenize(train)) pieces.insert(p);
  std::vector<TrainedBPE> trained;
  long first_single = -1, singles = 0;
  for (long asked : {1000L, 4000L, 16000L}) {
    BPETrainOptions options;
    options.vocab_size = 256 + asked + 1;  // bytes, merges, <|endoftext|>
    long first = -1, once = 0;
    options.on_merge = [&](const BPETrainStep& s) {
      if (s.count == 1 && first < 0) first = s.rank;
      once += s.count == 1;
    };
    const BPETokenizer bpe = train_bpe(train, options);
    TrainedBPE t;
    t.merges_asked = asked;
    t.merges = static_cast<long>(bpe.merges().size());
    t.heldout_tokens = static_cast<long>(bpe.encode(heldout).size());
    t.train = double(bpe.encode(train).size()) / syl_train;
    t.heldout = double(t.heldout_tokens) / syl_heldout;
    CHECK(bpe.decode(bpe.encode(heldout)) == heldout);
    if (asked == 16000) {
      first_single = first;
      singles = once;
      // The trainer stopped because no pair was left: every distinct piece is one token.
      for (std::string_view p : pieces) CHECK(bpe.encode(p).size() == 1);
    }
    trained.push_back(t);
    quoted.push_back("| trained on `train.txt`, " + std::to_string(asked / 1000) + "k merges asked | " +
                     thousands(t.merges) + " | " + fixed(t.train, 2) + " | " + fixed(t.heldout, 2) + " |");
  }
  const TrainedBPE &k1 = trained[0], &k4 = trained[1], &k16 = trained[2];
  // A Korean BPE spends fewer tokens than GPT-2, on text it never saw too.
  CHECK(k1.heldout < gpt2_heldout / 2);
  CHECK(k4.heldout <= k1.heldout);
  CHECK(k1.merges == 1000);
  // The text runs out of pairs before 4k merges: 4k and 16k are the same tokenizer.
  CHECK(k4.merges < 4000);
  CHECK(k16.merges == k4.merges);
  CHECK(k16.heldout == k4.heldout);
  // Memorising: the training text gains much more than the held-out one.
  CHECK(k1.train - k4.train > 2 * (k1.heldout - k4.heldout));
  quoted.push_back("already cut the held-out cost from " + fixed(gpt2_heldout, 2) + " tokens per syllable to " +
                   fixed(k1.heldout, 2) + ": " + fixed(gpt2_heldout / k1.heldout, 1) +
                   " times fewer tokens than GPT-2 for the same Korean text.");
  quoted.push_back("the trainer stops after " + thousands(k4.merges) + ". By then every one of the " +
                   thousands(static_cast<long long>(pieces.size())) + " distinct pieces of `train.txt`");
  quoted.push_back("from merge " + thousands(first_single + 1) +
                   " on, every merge joins a pair that occurs exactly once in the whole of `train.txt` (" +
                   thousands(singles) + " of the " + thousands(k16.merges) + " merges are such pairs)");
  quoted.push_back("(" + fixed(k1.train, 2) + " to " + fixed(k4.train, 2) + " tokens per syllable, " +
                   fixed(1 / k4.train, 1) + " syllables per token); on held-out text it buys little (" +
                   fixed(k1.heldout, 2) + " to " + fixed(k4.heldout, 2) + ")");
  quoted.push_back("learned from " + thousands(syl_train) + " syllables");

  // ---- context and cost ----
  quoted.push_back("They hold about " + fixed(1024 / per_word, 0) + " words of this English, but only " +
                   fixed(1024 / gpt2_heldout, 0) + " syllables of this Korean, the Korean of about " +
                   fixed(1024.0 / gpt2_heldout_tokens * words(english), 0) + " of those English words.");
  quoted.push_back("1,024 tokens would hold " + fixed(1024 / k1.heldout, 0) + " syllables.");
  const std::string ratio = fixed(korean_over_english, 2);
  quoted.push_back("costs GPT-2 " + ratio + " times the computation of the English one");
  quoted.push_back("charge per token charge " + ratio + " times as much");
  quoted.push_back("a Korean answer takes " + ratio + " times as many steps");
  quoted.push_back(fixed(korean_over_english, 2) + "² ≈ " + fixed(korean_over_english * korean_over_english, 1) +
                   " times.");

  // Compared with every run of white space as one space: the page may wrap its lines anywhere.
  for (const std::string& q : quoted) CHECK_THAT(one_line(page), Contains(one_line(q)));
}
