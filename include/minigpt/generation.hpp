// minigpt/generation.hpp — generating text one token at a time, with a KV cache.
//
// Chapter idea: GPT is a next-token predictor; a whole answer is that prediction repeated.
// The prompt goes through the model once (the "prefill"), filling the KV cache; then each new
// token is fed back in alone, attending to the cached keys and values of everything before
// it, and the next one is sampled (sampling.hpp).
//
// A context longer than the block size (n_positions) is cut to its most recent tokens, as
// GPT-2 itself can read no more. When the cache fills up while generating, the most recent
// half of the context is run through the model again and generation goes on from there.
//
// Shapes: prompt (B, T0) -> new tokens (B, max_new_tokens).
//
// Example:
//     Rng rng(42);
//     GenerateOptions opt;  opt.max_new_tokens = 20;  opt.sampling.temperature = 0;  // greedy
//     auto out = generate(model, {464, 2068, 7586}, 1, opt, rng);  // " fox jumps over ..."
#pragma once

#include "error.hpp"
#include "gpt.hpp"
#include "kv_cache.hpp"
#include "random.hpp"
#include "sampling.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

namespace minigpt {

struct GenerateOptions {
  Index max_new_tokens = 50;
  SamplingOptions sampling;
  TokenId stop_token = -1;  // stop once every sequence has produced it (-1: never)
};

// prompt holds B sequences of equal length T0, row after row. Returns the new tokens,
// B rows of up to max_new_tokens each (a row ends early at stop_token). on_token(b, id), when
// given, hears each token as soon as it is chosen: for streaming output.
template <typename S>
std::vector<std::vector<TokenId>> generate(GPT<S>& model, const std::vector<TokenId>& prompt, Index B,
                                           const GenerateOptions& opt, Rng& rng,
                                           const std::function<void(Index, TokenId)>& on_token = {}) {
  opt.sampling.validate();
  if (B <= 0 || prompt.empty() || prompt.size() % static_cast<std::size_t>(B) != 0)
    throw ArgumentError("generate: the prompt must hold B >= 1 sequences of equal, non-zero length (" +
                        std::to_string(prompt.size()) + " ids for B = " + std::to_string(B) + ")");
  if (opt.max_new_tokens < 0) throw ArgumentError("generate: max_new_tokens must be >= 0");
  const Index max_T = model.config().n_positions, V = model.config().vocab_size;
  const Index T0 = static_cast<Index>(prompt.size()) / B;
  // Every id is checked, also those that cropping to the block size would drop unread.
  check_token_ids(prompt, V, "generate", T0);

  // Each sequence's whole context so far: the prompt, then what we generate.
  std::vector<std::vector<TokenId>> context(static_cast<std::size_t>(B));
  for (Index b = 0; b < B; ++b) context[static_cast<std::size_t>(b)].assign(prompt.begin() + b * T0, prompt.begin() + (b + 1) * T0);
  std::vector<std::vector<TokenId>> out(static_cast<std::size_t>(B));
  std::vector<bool> stopped(static_cast<std::size_t>(B), false);

  KVCache<S> cache(model.config(), B);
  ForwardOptions<S> fopt;
  fopt.cache = &cache;
  fopt.last_position_only = true;

  // Runs the last n tokens of every context through the model from an empty cache.
  auto prefill = [&](Index n) -> const Tensor<S>& {
    cache.clear();
    std::vector<TokenId> window;
    for (const auto& c : context) window.insert(window.end(), c.end() - n, c.end());
    return model.forward(window, B, n, fopt);
  };

  const Tensor<S>* logits = &prefill(std::min(T0, max_T));
  for (Index step = 0; step < opt.max_new_tokens; ++step) {
    std::vector<TokenId> next(static_cast<std::size_t>(B));
    for (Index b = 0; b < B; ++b) {
      const auto bi = static_cast<std::size_t>(b);
      next[bi] = sample(logits->data() + b * V, V, opt.sampling, rng);
      context[bi].push_back(next[bi]);
      if (stopped[bi]) continue;
      out[bi].push_back(next[bi]);
      if (on_token) on_token(b, next[bi]);
      if (next[bi] == opt.stop_token) stopped[bi] = true;
    }
    if (std::all_of(stopped.begin(), stopped.end(), [](bool s) { return s; })) break;
    if (step + 1 == opt.max_new_tokens) break;
    if (cache.size() < max_T)
      logits = &model.forward(next, B, 1, fopt);  // one new position per sequence
    else
      logits = &prefill(std::max<Index>(1, max_T / 2));  // cache full: slide the window
  }
  return out;
}

}  // namespace minigpt
