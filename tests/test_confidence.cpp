// The confidence of an answer (confidence.hpp): the product of its tokens' probabilities from
// one forward pass over prompt + completion, against a direct computation that runs the model
// once per answer token on the prefix before it and takes softmax in long double; the entropy
// the same way; and self-consistency, whose agreement share estimates that same probability.
#include <catch2/catch.hpp>
#include "common.hpp"
#include <minigpt/char_tokenizer.hpp>
#include <minigpt/confidence.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace confidence_test {

GPT<double> tiny_model(Index V, Index positions, std::uint64_t seed, double scale = 1.0) {
  GPT<double> m(GPTConfig::make(2, 2, 16, positions, V));
  Rng rng(seed);
  m.init_weights(rng);
  m.parameters().flat() *= scale;  // larger weights: a peakier, less uniform distribution
  return m;
}

// p(next = target | prefix) and the entropy of that prediction, from a forward pass over the
// prefix alone (its last row), softmax written out in long double.
std::pair<long double, long double> direct(GPT<double>& m, const std::vector<TokenId>& prefix, TokenId target) {
  const Tensor<double>& logits = m.forward(prefix, 1, static_cast<Index>(prefix.size()));
  const Index V = m.config().vocab_size, last = static_cast<Index>(prefix.size()) - 1;
  long double max = -1e300L, z = 0;
  for (Index v = 0; v < V; ++v) max = std::max<long double>(max, logits.matrix()(last, v));
  for (Index v = 0; v < V; ++v) z += std::exp(static_cast<long double>(logits.matrix()(last, v)) - max);
  long double h = 0;
  for (Index v = 0; v < V; ++v) {
    const long double p = std::exp(static_cast<long double>(logits.matrix()(last, v)) - max) / z;
    if (p > 0) h -= p * std::log(p);
  }
  return {std::exp(static_cast<long double>(logits.matrix()(last, target)) - max) / z, h};
}

}  // namespace confidence_test

namespace ct = confidence_test;

TEST_CASE("Completion confidence: the header's worked example from logits", "[confidence]") {
  Matrix<double> logits(2, 2);
  logits << 0, 0, std::log(3.0), 0;
  const CompletionConfidence c = completion_confidence<double>(logits, 1, {1, 0});
  REQUIRE(c.tokens == 2);
  CHECK(c.token_prob[0] == Approx(0.5));
  CHECK(c.token_prob[1] == Approx(0.75));
  CHECK(c.token_entropy[0] == Approx(std::log(2.0)));
  CHECK(c.token_entropy[1] == Approx(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25))));  // 0.5623
  CHECK(c.log_prob == Approx(std::log(0.375)));
  CHECK(c.prob == Approx(0.375));
  CHECK(c.min_token_prob == Approx(0.5));
  CHECK_THROWS_AS(completion_confidence<double>(logits, 0, {1}), ArgumentError);
  CHECK_THROWS_AS(completion_confidence<double>(logits, 2, {1, 0}), ArgumentError);  // needs 3 rows
  CHECK_THROWS_AS(completion_confidence<double>(logits, 1, {1, 2}), ArgumentError);  // id 2 of V = 2
}

TEST_CASE("Completion confidence from one forward pass equals token-by-token softmax", "[confidence]") {
  GPT<double> m = ct::tiny_model(7, 12, 5, 3.0);
  const std::vector<TokenId> prompt{3, 1, 4, 1}, completion{5, 2, 6};
  GPTActivations<double> a;
  const CompletionConfidence c = completion_confidence(m, a, prompt, completion);
  long double product = 1;
  std::vector<TokenId> prefix = prompt;
  for (std::size_t j = 0; j < completion.size(); ++j) {
    const auto [p, h] = ct::direct(m, prefix, completion[j]);
    CHECK(c.token_prob[j] == Approx(static_cast<double>(p)).epsilon(1e-12));
    CHECK(c.token_entropy[j] == Approx(static_cast<double>(h)).epsilon(1e-12));
    product *= p;
    prefix.push_back(completion[j]);
  }
  CHECK(c.prob == Approx(static_cast<double>(product)).epsilon(1e-12));
  CHECK(c.prob < 0.9);  // not a degenerate certainty: the check above compares real numbers
  CHECK(c.log_prob == Approx(std::log(static_cast<double>(product))).epsilon(1e-12));
  // Past the block size: refused. 12 positions hold a prompt of 10 and 2 of the 3 answer
  // tokens (the last one is predicted, never fed).
  CHECK_NOTHROW(completion_confidence(m, a, std::vector<TokenId>(10, 1), completion));
  CHECK_THROWS_WITH(completion_confidence(m, a, std::vector<TokenId>(11, 1), completion), Contains("at most 12"));
  CHECK_THROWS_AS(completion_confidence(m, a, {}, completion), ArgumentError);
}

TEST_CASE("answer() scores its own greedy completion and cuts it after the stop text", "[confidence]") {
  const CharTokenizer tok = CharTokenizer::from_text("ab\n");
  GPT<double> m = ct::tiny_model(tok.vocab_size(), 16, 11, 30.0);
  AnswerOptions opt;
  opt.max_new_tokens = 3;
  const ModelAnswer a = answer(m, tok, "ab", opt);
  REQUIRE(!a.completion.empty());
  CHECK(a.completion.size() <= 3);
  CHECK(a.ended == (a.completion.back() == '\n'));
  // the greedy answer's probability, token by token
  long double product = 1;
  std::vector<TokenId> prefix = tok.encode("ab");
  for (TokenId t : tok.encode(a.completion)) {
    product *= ct::direct(m, prefix, t).first;
    prefix.push_back(t);
  }
  CHECK(a.confidence.prob == Approx(static_cast<double>(product)).epsilon(1e-12));
  CHECK(cut_at_stop("x\ny\n", "\n") == "x\n");
  bool ended = true;
  CHECK(cut_at_stop("xy", "\n", &ended) == "xy");
  CHECK(!ended);
  opt.max_new_tokens = 15;
  CHECK_THROWS_WITH(answer(m, tok, "ab", opt), Contains("block size 16"));
}

TEST_CASE("Self-consistency: the share of samples agreeing estimates the exact probability", "[confidence]") {
  const CharTokenizer tok = CharTokenizer::from_text("ab\n");
  GPT<double> m = ct::tiny_model(tok.vocab_size(), 16, 3, 3.0);
  AnswerOptions opt;
  opt.max_new_tokens = 2;
  Rng rng(99);
  const Index N = 4000;
  const std::vector<std::string> samples = sample_answers(m, tok, "ab", N, rng, opt);
  REQUIRE(static_cast<Index>(samples.size()) == N);
  std::map<std::string, Index> count;
  for (const std::string& s : samples) ++count[s];
  REQUIRE(count.size() >= 2);
  GPTActivations<double> acts;
  double total = 0;
  for (const auto& [text, n] : count) {
    const double p = completion_confidence(m, acts, tok.encode("ab"), tok.encode(text)).prob;
    const double share = static_cast<double>(n) / static_cast<double>(N);
    const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(N));
    INFO("sample " << escape_bytes(text) << ": share " << share << ", exact " << p);
    CHECK(std::abs(share - p) < 5 * sigma + 1e-9);
    CHECK(self_consistency(samples, text).agreement == Approx(share));
    total += p;
  }
  // The distinct samples of length <= 2 cover (almost) all of the mass.
  CHECK(total == Approx(1.0).margin(0.01));

  const SelfConsistency s = self_consistency({" a\n", " b\n", " a\n", " c\n"}, " b\n");
  CHECK(s.samples == 4);
  CHECK(s.majority == " a\n");
  CHECK(s.majority_share == Approx(0.5));
  CHECK(s.agreement == Approx(0.25));
  CHECK_THROWS_AS(self_consistency({}, "x"), ArgumentError);
  CHECK_THROWS_AS(sample_answers(m, tok, "ab", 0, rng, opt), ArgumentError);
}

TEST_CASE("Familiarity: the geometric mean of the text's token probabilities after its first, token by token", "[confidence]") {
  GPT<double> m = ct::tiny_model(7, 12, 8, 3.0);
  const std::vector<TokenId> context{6, 2}, text{3, 5, 1, 4};
  GPTActivations<double> a;
  const double f = familiarity(m, a, context, text);
  // s_1 = 3 is read, not scored; s_2 .. s_4 each after everything before it
  long double log_sum = 0;
  std::vector<TokenId> prefix{6, 2, 3};
  for (std::size_t j = 1; j < text.size(); ++j) {
    log_sum += std::log(ct::direct(m, prefix, text[j]).first);
    prefix.push_back(text[j]);
  }
  CHECK(f == Approx(static_cast<double>(std::exp(log_sum / 3))).epsilon(1e-12));
  CHECK(f > 0.0);
  CHECK(f < 0.9);  // a real number, not a degenerate certainty
  // The first token changes what follows it, but is not itself scored.
  CHECK(familiarity(m, a, context, {0, 5, 1, 4}) != Approx(f));
  // Text overload: a newline before the text, as a sentence would start.
  const CharTokenizer tok = CharTokenizer::from_text("ab \nMinaPrk");
  GPT<double> mt = ct::tiny_model(tok.vocab_size(), 16, 4, 3.0);
  CHECK(familiarity(mt, tok, "Mina Park") == Approx(familiarity(mt, a, tok.encode("\n"), tok.encode("Mina Park"))).epsilon(1e-15));
  CHECK(familiarity(mt, tok, "Mina", "ab") == Approx(familiarity(mt, a, tok.encode("ab"), tok.encode("Mina"))).epsilon(1e-15));
  // Too short a text, no context, past the block size: refused by name.
  CHECK_THROWS_WITH(familiarity(m, a, context, {3}), Contains("at least two"));
  CHECK_THROWS_WITH(familiarity(m, a, {}, text), Contains("familiarity"));
  CHECK_THROWS_WITH(familiarity(m, a, std::vector<TokenId>(10, 1), text), Contains("at most 12"));
}
