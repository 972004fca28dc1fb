// minigpt/generation.hpp — generating text one token at a time, with a KV cache, for one
// prompt or many at once.
//
// Chapter idea: GPT is a next-token predictor; a whole answer is that prediction repeated.
// The prompt goes through the model once (the "prefill"), filling the KV cache; then each new
// token is fed back in alone, attending to the cached keys and values of everything before
// it, and the next one is sampled (sampling.hpp).
//
// Many prompts at once (a batch): the prompts may have different lengths. They share one KV
// cache in which every sequence has its own length (ragged positions, kv_cache.hpp). Prompts
// of the same length are prefilled together, each into its own sequence of the cache; then
// every step feeds each unfinished sequence its newest token at its own next position, all
// in one forward pass of B rows, so the weights are read once per step for all of them.
// A sequence that produces the stop token leaves the batch (its cache rows are dropped).
// Ragged positions rather than left padding with a mask: no work is spent on padding, no
// position needs shifting, and each sequence attends to exactly the keys it would have alone.
// So with bf16 or Q8_0 weights, whose products give every row the same bits whatever the
// batch (detail/quant.hpp), a batch gives the same logits as each prompt alone, bit for bit;
// in f32, the same up to float rounding (Eigen multiplies one row and several rows in
// different orders).
//
// Each prompt samples from its own generator, so its text does not depend on the others:
// generate(model, prompts, options, seed) gives prompt b the generator Rng(seed + b), and
// prompt b alone with seed + b gives the same text.
//
// A context longer than the block size (n_positions) is cut to its most recent tokens, as
// GPT-2 itself can read no more. When a sequence's cache fills up while generating, its most
// recent half is run through the model again and generation goes on from there.
//
// Shapes: prompts (B, T0_b) -> new tokens (B, up to max_new_tokens).
//
// Example:
//     GenerateOptions opt;  opt.max_new_tokens = 20;  opt.stop_token = 50256;
//     auto out = generate(model, {{464, 2068, 7586}, {40, 588}}, opt, /*seed*/ 42);
//     // out[0]: " fox jumps over ...", out[1]: ...; each also alone with seed 42 + b
#pragma once

#include "error.hpp"
#include "gpt.hpp"
#include "kv_cache.hpp"
#include "random.hpp"
#include "sampling.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace minigpt {

struct GenerateOptions {
  Index max_new_tokens = 50;
  SamplingOptions sampling;
  TokenId stop_token = -1;  // a sequence ends once it has produced it (-1: never)
};

namespace detail {

// The batched generator: prompt b draws its tokens from *rngs[b] (the pointers may repeat).
template <typename S>
std::vector<std::vector<TokenId>> generate_batch(GPT<S>& model, const std::vector<std::vector<TokenId>>& prompts,
                                                 const GenerateOptions& opt, const std::vector<Rng*>& rngs,
                                                 const std::function<void(Index, TokenId)>& on_token) {
  opt.sampling.validate();
  const Index B = static_cast<Index>(prompts.size()), max_T = model.config().n_positions, V = model.config().vocab_size;
  if (B == 0) throw ArgumentError("generate: no prompts given");
  if (opt.max_new_tokens < 0) throw ArgumentError("generate: max_new_tokens must be >= 0");
  // Each sequence's context: its prompt's last max_T tokens, then what it generates.
  std::vector<std::vector<TokenId>> context(static_cast<std::size_t>(B)), out(static_cast<std::size_t>(B));
  Index longest = 0;
  for (Index b = 0; b < B; ++b) {
    const std::vector<TokenId>& p = prompts[static_cast<std::size_t>(b)];
    if (p.empty()) throw ArgumentError("generate: prompt " + std::to_string(b) + " is empty: there is nothing to continue");
    // Every id is checked, also those that cropping to the block size would drop unread.
    check_token_ids(p, V, B == 1 ? "generate" : "generate: prompt " + std::to_string(b));
    context[static_cast<std::size_t>(b)].assign(p.end() - std::min<Index>(max_T, static_cast<Index>(p.size())), p.end());
    longest = std::max(longest, static_cast<Index>(context[static_cast<std::size_t>(b)].size()));
  }
  if (opt.max_new_tokens == 0) return out;

  // Room for the longest context and every new token, at most the block size.
  KVCache<S> cache(model.config(), B, std::min(max_T, longest + std::min(opt.max_new_tokens, max_T)));
  std::vector<Index> seq(static_cast<std::size_t>(B));  // row i of the cache holds sequence seq[i]
  for (Index b = 0; b < B; ++b) seq[static_cast<std::size_t>(b)] = b;
  std::vector<std::vector<S>> logits(static_cast<std::size_t>(B));  // each sequence's next-token scores
  ForwardOptions<S> fopt;
  fopt.last_position_only = true;

  // Cache rows `rows` get the keys and values of n tokens of their contexts from position 0:
  // the n tokens before the last `skip`. With `keep`, their last position's logits are kept.
  auto fill = [&](const std::vector<Index>& rows, Index n, Index skip, bool keep) {
    const Index G = static_cast<Index>(rows.size());
    for (Index i : rows) cache.truncate(i, 0);
    if (n == 0) return;
    std::vector<TokenId> window;
    for (Index i : rows) {
      const std::vector<TokenId>& c = context[static_cast<std::size_t>(seq[static_cast<std::size_t>(i)])];
      window.insert(window.end(), c.end() - skip - n, c.end() - skip);
    }
    fopt.logits = keep;
    KVCache<S> part;  // the whole cache when every row starts here, else a cache of these rows
    if (G < cache.batch()) part = KVCache<S>(model.config(), G, n);
    fopt.cache = G < cache.batch() ? &part : &cache;
    const Tensor<S>& lg = model.forward(window, G, n, fopt);
    for (Index j = 0; j < G; ++j) {
      const Index i = rows[static_cast<std::size_t>(j)];
      if (G < cache.batch()) cache.copy_sequence(i, part, j);
      if (keep) logits[static_cast<std::size_t>(seq[static_cast<std::size_t>(i)])].assign(lg.data() + j * V, lg.data() + (j + 1) * V);
    }
  };

  // The prefill: prompts of one length together.
  std::map<Index, std::vector<Index>> by_length;
  for (Index b = 0; b < B; ++b) by_length[static_cast<Index>(context[static_cast<std::size_t>(b)].size())].push_back(b);
  for (const auto& group : by_length) fill(group.second, group.first, 0, true);

  for (Index step = 0;; ++step) {
    // One token for every running sequence, in the order of the prompts.
    std::vector<Index> running;
    std::vector<TokenId> next;
    for (Index i = 0; i < cache.batch(); ++i) {
      const auto s = static_cast<std::size_t>(seq[static_cast<std::size_t>(i)]);
      const TokenId id = sample(logits[s].data(), V, opt.sampling, *rngs[s]);
      out[s].push_back(id);
      context[s].push_back(id);
      if (on_token) on_token(static_cast<Index>(s), id);
      if (id != opt.stop_token) {
        running.push_back(i);
        next.push_back(id);
      }
    }
    if (running.empty() || step + 1 == opt.max_new_tokens) break;
    if (static_cast<Index>(running.size()) < cache.batch()) {  // finished sequences leave the batch
      cache.keep_sequences(running);
      std::vector<Index> kept;
      for (Index i : running) kept.push_back(seq[static_cast<std::size_t>(i)]);
      seq = kept;
    }
    // A full cache (at the block size): the most recent half of the context, but the newest
    // token, runs again from position 0; the newest then goes in below like every other.
    for (Index i = 0; i < cache.batch(); ++i)
      if (cache.size(i) == cache.capacity()) fill({i}, std::max<Index>(1, max_T / 2) - 1, 1, false);
    fopt.cache = &cache;
    fopt.logits = true;
    const Tensor<S>& lg = model.forward(next, cache.batch(), 1, fopt);  // one new position per sequence
    for (Index i = 0; i < cache.batch(); ++i)
      logits[static_cast<std::size_t>(seq[static_cast<std::size_t>(i)])].assign(lg.data() + i * V, lg.data() + (i + 1) * V);
  }
  return out;
}

}  // namespace detail

// B prompts of any lengths at once; prompt b samples from rngs[b] (B generators). Returns
// each prompt's new tokens: up to max_new_tokens, ending early with stop_token when it comes.
// on_token(b, id), when given, hears each token as soon as it is chosen.
template <typename S>
std::vector<std::vector<TokenId>> generate(GPT<S>& model, const std::vector<std::vector<TokenId>>& prompts,
                                           const GenerateOptions& opt, std::vector<Rng>& rngs,
                                           const std::function<void(Index, TokenId)>& on_token = {}) {
  if (rngs.size() != prompts.size())
    throw ArgumentError("generate: " + std::to_string(rngs.size()) + " generators for " +
                        std::to_string(prompts.size()) + " prompts (one each)");
  std::vector<Rng*> streams;
  for (Rng& r : rngs) streams.push_back(&r);
  return detail::generate_batch(model, prompts, opt, streams, on_token);
}

// The same, prompt b sampling from Rng(seed + b).
template <typename S>
std::vector<std::vector<TokenId>> generate(GPT<S>& model, const std::vector<std::vector<TokenId>>& prompts,
                                           const GenerateOptions& opt, std::uint64_t seed,
                                           const std::function<void(Index, TokenId)>& on_token = {}) {
  std::vector<Rng> rngs;
  for (std::size_t b = 0; b < prompts.size(); ++b) rngs.emplace_back(seed + b);
  return generate(model, prompts, opt, rngs, on_token);
}

// What the model predicts after `context`: every token of the vocabulary with its
// probability softmax(logits) at the last position, most likely first (summing to 1). A
// context longer than the block size is read from its last n_positions tokens, as generate
// reads it. The chapter's "next-token predictor" in one call.
//
//   context (T0) -> (token id, probability) (V), most likely first
//
// Example (next_token_predictor's character model, trained on tinyshakespeare for 2,000 steps):
//     auto next = next_token_probabilities(model, tok.encode("ROMEO:"));
//     // tok.decode({next[0].first}) is "\n" with next[0].second 0.975; then " " 0.022, "'" 0.001
template <typename S>
std::vector<std::pair<TokenId, double>> next_token_probabilities(GPT<S>& model, const std::vector<TokenId>& context) {
  if (context.empty()) throw ArgumentError("next_token_probabilities: the context is empty: there is nothing to continue");
  check_token_ids(context, model.config().vocab_size, "next_token_probabilities");
  const Index T0 = std::min<Index>(model.config().n_positions, static_cast<Index>(context.size()));
  const std::vector<TokenId> window(context.end() - T0, context.end());  // the model reads its last block
  ForwardOptions<S> last;
  last.last_position_only = true;
  const Tensor<S>& logits = model.forward(window, 1, T0, last);  // (1, 1, V)
  return sampling_distribution(logits.data(), model.config().vocab_size, SamplingOptions{});
}

// prompt holds B sequences of equal length T0, row after row, all sampling from the one
// generator rng (at each step in the order of the sequences). Returns the new tokens, B rows
// of up to max_new_tokens each (a row ends early at stop_token).
template <typename S>
std::vector<std::vector<TokenId>> generate(GPT<S>& model, const std::vector<TokenId>& prompt, Index B,
                                           const GenerateOptions& opt, Rng& rng,
                                           const std::function<void(Index, TokenId)>& on_token = {}) {
  if (B <= 0 || prompt.empty() || prompt.size() % static_cast<std::size_t>(B) != 0)
    throw ArgumentError("generate: the prompt must hold B >= 1 sequences of equal, non-zero length (" +
                        std::to_string(prompt.size()) + " ids for B = " + std::to_string(B) + ")");
  const Index T0 = static_cast<Index>(prompt.size()) / B;
  check_token_ids(prompt, model.config().vocab_size, "generate", T0);
  std::vector<std::vector<TokenId>> prompts;
  for (Index b = 0; b < B; ++b) prompts.emplace_back(prompt.begin() + b * T0, prompt.begin() + (b + 1) * T0);
  return detail::generate_batch(model, prompts, opt, std::vector<Rng*>(static_cast<std::size_t>(B), &rng), on_token);
}

}  // namespace minigpt
