// The KV cache against the full forward pass; sampling: determinism, greedy, top-k and top-p
// masses; generation's contract.
#include "common.hpp"

#include <catch2/catch.hpp>
#include <minigpt/minigpt.hpp>

#include <map>

using namespace minigpt;
using Catch::Matchers::Contains;

namespace {

GPT<float> random_model(GPTConfig c, std::uint64_t seed = 3) {
  GPT<float> model(c);
  Rng rng(seed);
  model.init_weights(rng);
  // Stronger weights than GPT-2's init, so attention is far from uniform (and yet the logits
  // stay in a range where float rounding is the only difference between two orders of sums).
  for (Index i = 0; i < model.parameters().size(); ++i) model.parameters().data()[i] *= 4.0f;
  return model;
}

}  // namespace

TEST_CASE("incremental logits with the KV cache equal the full forward's", "[generation][kv_cache]") {
  const GPTConfig c = GPTConfig::make(3, 4, 32, 40, 57);
  GPT<float> model = random_model(c);
  Rng rng(11);
  const Index B = 2, T = 33;
  std::vector<TokenId> ids(B * T);
  for (auto& id : ids) id = static_cast<TokenId>(rng.below(57));

  const Tensor<float> full = model.forward(ids, B, T);  // copy: the next forward reuses the buffer

  // Prefill 9 tokens, then one position at a time, then a chunk of 4, then one at a time.
  KVCache<float> cache(c, B);
  ForwardOptions<float> opt;
  opt.cache = &cache;
  Index t = 0;
  double worst = 0;
  auto step = [&](Index n) {
    std::vector<TokenId> chunk;
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) chunk.push_back(ids[b * T + t + i]);
    const Tensor<float>& logits = model.forward(chunk, B, n, opt);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i) {
        const float* got = logits.data() + (b * n + i) * c.vocab_size;
        const float* want = full.data() + (b * T + t + i) * c.vocab_size;
        worst = std::max(worst, test::relative_error(got, want, static_cast<std::size_t>(c.vocab_size)));
      }
    t += n;
  };
  step(9);
  while (t < 20) step(1);
  step(4);
  while (t < T) step(1);
  CHECK(cache.size() == T);
  INFO("worst relative error " << worst);
  CHECK(worst <= 1e-5);

  // The cache refuses to grow past the block size, naming it.
  std::vector<TokenId> more(B * 8, 1);
  CHECK_THROWS_WITH(model.forward(more, B, 8, opt), Contains("block size of 40"));
}

TEST_CASE("sampling: greedy, same seed same ids, top-k and top-p masses", "[generation][sampling]") {
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f, 1.0f};
  SamplingOptions greedy;
  greedy.temperature = 0;
  Rng rng(5);
  CHECK(sample(logits.data(), 5, greedy, rng) == 0);

  // Plain softmax: probabilities exp(l) / Σ exp(l), most likely first, ties by id.
  SamplingOptions plain;
  auto dist = sampling_distribution(logits.data(), 5, plain);
  const double Z = std::exp(2.0) + 2 * std::exp(1.0) + 1 + std::exp(-1.0);
  REQUIRE(dist.size() == 5);
  CHECK(dist[0].first == 0);
  CHECK(dist[0].second == Approx(std::exp(2.0) / Z));
  CHECK(dist[1].first == 1);
  CHECK(dist[2].first == 4);

  // top-k = 2 keeps tokens 0 and 1, renormalised.
  SamplingOptions topk;
  topk.top_k = 2;
  dist = sampling_distribution(logits.data(), 5, topk);
  REQUIRE(dist.size() == 2);
  CHECK(dist[0].second == Approx(std::exp(2.0) / (std::exp(2.0) + std::exp(1.0))));

  // top-p = 0.8: 0.547 (token 0) + 0.201 (token 1) = 0.748 < 0.8, so token 4 joins (0.949).
  SamplingOptions topp;
  topp.top_p = 0.8;
  dist = sampling_distribution(logits.data(), 5, topp);
  REQUIRE(dist.size() == 3);
  double mass = 0;
  for (auto& d : dist) mass += d.second;
  CHECK(mass == Approx(1.0));
  CHECK(dist[2].first == 4);

  // Temperature sharpens: at 0.5 the top token's probability grows.
  SamplingOptions cold;
  cold.temperature = 0.5;
  CHECK(sampling_distribution(logits.data(), 5, cold)[0].second > std::exp(2.0) / Z);

  // Draw frequencies follow the distribution (top-p case), and the same seed repeats them.
  std::map<TokenId, int> counts;
  Rng a(99), b(99);
  for (int i = 0; i < 20000; ++i) {
    const TokenId x = sample(logits.data(), 5, topp, a);
    CHECK(x == sample(logits.data(), 5, topp, b));
    ++counts[x];
  }
  CHECK(counts.count(2) == 0);
  CHECK(counts.count(3) == 0);
  CHECK(counts[0] / 20000.0 == Approx(dist[0].second).margin(0.015));

  CHECK_THROWS_WITH(sampling_distribution(logits.data(), 5, SamplingOptions{-1.0, 0, 1.0}), Contains("temperature"));
  CHECK_THROWS_WITH(sampling_distribution(logits.data(), 5, SamplingOptions{1.0, 0, 0.0}), Contains("top_p"));
}

TEST_CASE("generation: seeded, batched, streaming, and past the block size", "[generation]") {
  const GPTConfig c = GPTConfig::make(2, 2, 16, 12, 23);
  GPT<float> model = random_model(c, 8);
  GenerateOptions opt;
  opt.max_new_tokens = 30;  // more than the block size of 12: the window slides
  opt.sampling.temperature = 0.9;
  opt.sampling.top_k = 10;
  Rng r1(42), r2(42), r3(43);
  std::vector<TokenId> streamed;
  const auto a = generate(model, {1, 2, 3, 4}, 1, opt, r1, [&](Index, TokenId id) { streamed.push_back(id); });
  const auto b = generate(model, {1, 2, 3, 4}, 1, opt, r2);
  const auto d = generate(model, {1, 2, 3, 4}, 1, opt, r3);
  REQUIRE(a[0].size() == 30);
  CHECK(a == b);
  CHECK(streamed == a[0]);
  CHECK(a != d);

  // Greedy, batched: each row equals the same prompt generated alone.
  opt.sampling.temperature = 0;
  opt.max_new_tokens = 8;
  Rng r(0);
  const auto batched = generate(model, {1, 2, 3, 9, 8, 7}, 2, opt, r);
  CHECK(batched[0] == generate(model, {1, 2, 3}, 1, opt, r)[0]);
  CHECK(batched[1] == generate(model, {9, 8, 7}, 1, opt, r)[0]);

  // Greedy equals an argmax over a full forward at each step (no cache involved).
  std::vector<TokenId> context = {1, 2, 3};
  for (TokenId expected : batched[0]) {
    const Tensor<float>& logits = model.forward(context, 1, static_cast<Index>(context.size()));
    CHECK(argmax(logits.data() + (context.size() - 1) * 23, 23) == expected);
    context.push_back(expected);
  }

  CHECK_THROWS_WITH(generate(model, {}, 1, opt, r), Contains("prompt"));
  CHECK_THROWS_WITH(generate(model, {1, 2, 3}, 2, opt, r), Contains("equal"));
  CHECK_THROWS_WITH(generate(model, {1, 23}, 1, opt, r), Contains("token id 23"));
}

TEST_CASE("next_token_probabilities: softmax of the last position's logits, most likely first", "[generation]") {
  const GPTConfig c = GPTConfig::make(2, 2, 16, 12, 23);
  GPT<float> model = random_model(c, 8);
  // against a softmax computed here, in double, from a full forward's last row
  auto direct = [&](const std::vector<TokenId>& ids) {
    const Tensor<float>& logits = model.forward(ids, 1, static_cast<Index>(ids.size()));  // (1, T, V)
    const float* last = logits.data() + (ids.size() - 1) * 23;
    double top = last[0], sum = 0;
    for (Index v = 0; v < 23; ++v) top = std::max(top, static_cast<double>(last[v]));
    std::vector<double> p(23);
    for (Index v = 0; v < 23; ++v) sum += p[static_cast<std::size_t>(v)] = std::exp(last[v] - top);
    for (double& x : p) x /= sum;
    return p;
  };
  const std::vector<TokenId> ids = {1, 2, 3, 4, 5};
  const auto next = next_token_probabilities(model, ids);
  const std::vector<double> want = direct(ids);
  REQUIRE(next.size() == 23);
  double total = 0;
  for (std::size_t i = 0; i < next.size(); ++i) {
    CHECK(next[i].second == Approx(want[static_cast<std::size_t>(next[i].first)]).margin(1e-6));
    if (i > 0) CHECK(next[i].second <= next[i - 1].second);
    total += next[i].second;
  }
  CHECK(total == Approx(1.0).margin(1e-9));
  // greedy generation's first token is the likeliest
  GenerateOptions greedy;
  greedy.max_new_tokens = 1;
  greedy.sampling.temperature = 0;
  Rng r(0);
  CHECK(generate(model, ids, 1, greedy, r)[0][0] == next[0].first);
  // past the block size of 12: the last 12 tokens are read
  std::vector<TokenId> long_ids;
  for (int i = 0; i < 20; ++i) long_ids.push_back(static_cast<TokenId>((i * 7) % 23));
  const std::vector<TokenId> window(long_ids.end() - 12, long_ids.end());
  const auto cut = next_token_probabilities(model, long_ids), alone = next_token_probabilities(model, window);
  CHECK(cut == alone);
  CHECK(cut[0].second == Approx(direct(window)[static_cast<std::size_t>(cut[0].first)]).margin(1e-6));
  CHECK_THROWS_WITH(next_token_probabilities(model, {}), Contains("empty"));
  CHECK_THROWS_WITH(next_token_probabilities(model, {1, 23}), Contains("token id 23"));
}
