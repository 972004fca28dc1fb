// Tests of BPE training: the hand-checkable example, and the round trip through the files.
#include <minigpt/bpe_trainer.hpp>
#include <minigpt/load_tokenizer.hpp>

#include <catch2/catch.hpp>
#include "common.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

using namespace minigpt;

namespace {
// Training the slow, obvious way: recount every pair of every piece before each merge.
std::vector<std::pair<TokenId, TokenId>> naive_merges(const std::string& text, std::size_t n_merges) {
  std::map<std::string, Index> pieces;
  for (auto p : pretokenize(text)) ++pieces[std::string(p)];
  std::vector<std::pair<std::vector<TokenId>, Index>> words;
  for (const auto& [piece, count] : pieces) {
    std::vector<TokenId> w;
    for (unsigned char b : piece)
      w.push_back(static_cast<TokenId>(std::find(detail::byte_alphabet.byte_order.begin(),
                                                 detail::byte_alphabet.byte_order.end(), b) -
                                       detail::byte_alphabet.byte_order.begin()));
    words.emplace_back(w, count);
  }
  std::vector<std::pair<TokenId, TokenId>> merges;
  for (TokenId made = 256; merges.size() < n_merges; ++made) {
    std::map<std::pair<TokenId, TokenId>, Index> counts;
    for (const auto& [w, f] : words)
      for (std::size_t i = 0; i + 1 < w.size(); ++i) counts[{w[i], w[i + 1]}] += f;
    if (counts.empty()) break;
    auto best = counts.begin();  // map order: smaller pair first, so ties go to it
    for (auto it = counts.begin(); it != counts.end(); ++it)
      if (it->second > best->second) best = it;
    merges.push_back(best->first);
    for (auto& [w, f] : words) {
      std::vector<TokenId> out;
      for (std::size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == best->first.first && w[i + 1] == best->first.second) {
          out.push_back(made);
          ++i;
        } else {
          out.push_back(w[i]);
        }
      }
      w = out;
    }
  }
  return merges;
}

}  // namespace

TEST_CASE("Incremental pair counts learn exactly the merges of a full recount", "[tokenizer][train]") {
  const std::string text = detail::read_file(test::data("tinyshakespeare.txt")).substr(0, 30000) +
                           detail::read_file(test::data("tokenizer/texts/korean.txt"));
  BPETrainOptions opt;
  opt.vocab_size = 256 + 300;
  opt.special_tokens = {};
  const BPETokenizer tok = train_bpe(text, opt);
  const auto want = naive_merges(text, 300);
  REQUIRE(tok.merges().size() == want.size());
  for (std::size_t r = 0; r < want.size(); ++r) {
    INFO("merge " << r);
    CHECK(tok.merges()[r] == want[r]);
  }
}

TEST_CASE("Training on aaabdaaabac learns the merges worked out by hand", "[tokenizer][train]") {
  BPETrainOptions opt;
  opt.vocab_size = 260;
  opt.special_tokens = {};
  std::vector<BPETrainStep> steps;
  opt.on_merge = [&](const BPETrainStep& s) { steps.push_back(s); };
  const BPETokenizer tok = train_bpe("aaabdaaabac", opt);
  REQUIRE(steps.size() == 4);
  const TokenId a = tok.byte_token('a'), b = tok.byte_token('b'), c = tok.byte_token('c');
  CHECK(a == 64);  // GPT-2's byte order: '!' is 0, so 'a' (0x61) is 64
  // (a, a) occurs 4 times counting overlaps -> "aa" = 256.
  CHECK(steps[0].left == a);
  CHECK(steps[0].right == a);
  CHECK(steps[0].count == 4);
  CHECK(steps[0].bytes == "aa");
  // (a, b) and (aa, a) both occur twice; the smaller ids win -> "ab" = 257.
  CHECK(steps[1].left == a);
  CHECK(steps[1].right == b);
  CHECK(steps[1].count == 2);
  // (aa, ab) -> "aaab" = 258.
  CHECK(steps[2].left == 256);
  CHECK(steps[2].right == 257);
  CHECK(steps[2].bytes == "aaab");
  // Four pairs occur once; (a, c) has the smallest ids -> "ac" = 259.
  CHECK(steps[3].left == a);
  CHECK(steps[3].right == c);
  CHECK(steps[3].count == 1);
  CHECK(tok.vocab_size() == 260);
  CHECK(tok.encode("aaabdaaabac") == std::vector<TokenId>{258, tok.byte_token('d'), 258, 259});
  CHECK(tok.decode(tok.encode("aaabdaaabac")) == "aaabdaaabac");
}

TEST_CASE("Training stops when the text has no pairs left", "[tokenizer][train]") {
  BPETrainOptions opt;
  opt.vocab_size = 1000;
  const BPETokenizer tok = train_bpe("ab ab", opt);
  // "ab", " ab" -> merges (a, b) and (' ', ab); then nothing is left to merge.
  CHECK(tok.merges().size() == 2);
  CHECK(tok.vocab_size() == 256 + 2 + 1);
  CHECK(tok.special_token("<|endoftext|>") == std::optional<TokenId>(258));
  CHECK_THROWS_AS(train_bpe("abc", BPETrainOptions{100, {}, 1, {}}), ArgumentError);
  CHECK_THROWS_AS(train_bpe("abc", BPETrainOptions{300, {""}, 1, {}}), ArgumentError);
  CHECK_THROWS_AS(train_bpe("abc", BPETrainOptions{300, {"a"}, 1, {}}), ArgumentError);  // = a byte token
}

TEST_CASE("Special tokens are cut out of the training text and get the last ids", "[tokenizer][train]") {
  BPETrainOptions opt;
  opt.vocab_size = 300;
  opt.special_tokens = {"<|endoftext|>", "<|pad|>"};
  std::string text;
  for (int i = 0; i < 50; ++i) text += "hello world<|endoftext|>";
  const BPETokenizer tok = train_bpe(text, opt);
  const auto eot = static_cast<TokenId>(tok.vocab_size() - 2);
  CHECK(tok.special_token("<|endoftext|>") == std::optional<TokenId>(eot));
  CHECK(tok.special_token("<|pad|>") == std::optional<TokenId>(eot + 1));
  for (TokenId id = 256; id < eot; ++id)
    CHECK(tok.token_bytes(id).find("endoftext") == std::string::npos);
  CHECK(tok.encode_with_special("hello world<|endoftext|>") ==
        std::vector<TokenId>{tok.encode("hello")[0], tok.encode(" world")[0], eot});
}

TEST_CASE("A BPE trained on Shakespeare saves as vocab.json + merges.txt and loads back", "[tokenizer][train]") {
  const std::string text = detail::read_file(test::data("tinyshakespeare.txt"));
  BPETrainOptions opt;
  opt.vocab_size = 256 + 500 + 1;
  const BPETokenizer tok = train_bpe(text, opt);
  CHECK(tok.vocab_size() == 757);
  CHECK(tok.merges().size() == 500);
  const std::string dir = test::temp_dir("shakespeare");
  tok.save(dir);
  const std::string merges = detail::read_file(dir + "/merges.txt");
  CHECK(merges.rfind("#version: 0.2\n", 0) == 0);
  const auto vocab = nlohmann::json::parse(detail::read_file(dir + "/vocab.json"));
  CHECK(vocab.size() == 757);
  CHECK(vocab.at("<|endoftext|>") == 756);
  const auto back = load_tokenizer(dir);
  REQUIRE(back->vocab_size() == tok.vocab_size());
  const std::string sample = text.substr(0, 20000);
  const auto ids = tok.encode(sample);
  CHECK(back->encode(sample) == ids);
  CHECK(back->decode(ids) == sample);
  CHECK(ids.size() * 2 < sample.size());  // 500 merges already halve the length
  // The common words of the play became single tokens.
  CHECK(tok.encode(" the").size() == 1);
  CHECK(tok.encode(" KING").size() <= 2);
}
