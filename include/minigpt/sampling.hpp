// minigpt/sampling.hpp — choosing the next token from the model's scores.
//
// Chapter idea: GPT does not output a word; it outputs a score (logit) for every token of the
// vocabulary. Generation picks one: always the best (greedy, temperature 0), or at random in
// proportion to softmax(logits / temperature), optionally only among the k best (top-k) or
// among the fewest best tokens whose probabilities add up to p (top-p, "nucleus"). Sampling
// is also where a model can confidently say something false: it always picks *something*,
// and a fluent guess scores as well as a fact (the chapter's discussion of hallucination).
//
// Shapes: logits (V) -> one token id.
//
// Example: logits [2, 1, 0, −1], temperature 1
//     probabilities [0.644 0.237 0.087 0.032]
//     top_k = 2  -> [0.731 0.269 0 0]
//     top_p = 0.9 -> keeps 0.644 + 0.237 + 0.087 = 0.968 >= 0.9 -> [0.665 0.245 0.090 0]
#pragma once

#include "error.hpp"
#include "random.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

namespace minigpt {

struct SamplingOptions {
  double temperature = 1.0;  // 0: greedy (argmax)
  Index top_k = 0;           // 0: no limit
  double top_p = 1.0;        // 1: no limit

  void validate() const {
    if (!(temperature >= 0.0) || !std::isfinite(temperature))
      throw ArgumentError("temperature must be a finite number >= 0, got " + std::to_string(temperature));
    if (top_k < 0) throw ArgumentError("top_k must be >= 0 (0 means no limit), got " + std::to_string(top_k));
    if (!(top_p > 0.0 && top_p <= 1.0)) throw ArgumentError("top_p must be in (0, 1], got " + std::to_string(top_p));
  }
};

// The index of the largest logit (the first one, on ties).
template <typename S>
TokenId argmax(const S* logits, Index V) {
  return static_cast<TokenId>(std::max_element(logits, logits + V) - logits);
}

// The distribution sampling draws from, as (token id, probability) pairs, most likely first,
// summing to 1. Tokens outside top-k / top-p are left out.
template <typename S>
std::vector<std::pair<TokenId, double>> sampling_distribution(const S* logits, Index V, const SamplingOptions& opt) {
  opt.validate();
  if (V <= 0) throw ArgumentError("sampling: empty vocabulary");
  for (Index v = 0; v < V; ++v)
    if (std::isnan(static_cast<double>(logits[v])))
      throw ArgumentError("sampling: logit of token " + std::to_string(v) + " is NaN");
  // Most likely first; equal scores in id order, so the result never depends on the sort.
  std::vector<TokenId> order(static_cast<std::size_t>(V));
  std::iota(order.begin(), order.end(), TokenId(0));
  const Index keep = opt.top_k > 0 ? std::min(opt.top_k, V) : V;
  auto better = [&](TokenId a, TokenId b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; };
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), better);
  order.resize(static_cast<std::size_t>(keep));

  std::vector<std::pair<TokenId, double>> dist;
  if (opt.temperature == 0.0) return {{order[0], 1.0}};
  // softmax(logits / temperature) over the kept tokens
  const double top = static_cast<double>(logits[order[0]]);
  double total = 0.0;
  for (TokenId id : order) {
    const double p = std::exp((static_cast<double>(logits[id]) - top) / opt.temperature);
    dist.emplace_back(id, p);
    total += p;
  }
  // top-p: the fewest most-likely tokens whose mass reaches p
  double mass = 0.0;
  std::size_t n = 0;
  while (n < dist.size()) {
    mass += dist[n].second / total;
    ++n;
    if (mass >= opt.top_p) break;
  }
  dist.resize(n);
  double kept = 0.0;
  for (const auto& d : dist) kept += d.second;
  for (auto& d : dist) d.second /= kept;
  return dist;
}

// One token drawn from sampling_distribution(logits, opt) with rng.
template <typename S>
TokenId sample(const S* logits, Index V, const SamplingOptions& opt, Rng& rng) {
  if (opt.temperature == 0.0) {
    opt.validate();
    return argmax(logits, V);
  }
  const auto dist = sampling_distribution(logits, V, opt);
  double u = rng.uniform();
  for (const auto& d : dist) {
    if (u < d.second) return d.first;
    u -= d.second;
  }
  return dist.back().first;  // u landed in the rounding error of the last bucket
}

}  // namespace minigpt
