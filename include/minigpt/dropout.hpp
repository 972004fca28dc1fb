// minigpt/dropout.hpp — dropout: randomly silencing numbers while training.
//
// Not a chapter idea of its own, but part of how GPT-2 was pre-trained: during training each
// number passes with probability 1 − p (scaled up by 1 / (1 − p), so the expected value is
// unchanged) or becomes 0. It is off (p = 0) unless the config asks for it, and never on
// when generating. The masks are drawn from the caller's seeded Rng: same seed, same masks.
//
// Shapes: a mask has as many entries as the tensor it multiplies.
// Example: p = 0.5 -> mask entries are 0 or 2.
#pragma once

#include "random.hpp"
#include "tensor.hpp"

#include <vector>

namespace minigpt {

// Fills mask with n entries, each 0 (probability p) or 1 / (1 − p).
template <typename S>
void make_dropout_mask(std::vector<S>& mask, Index n, double p, Rng& rng) {
  mask.resize(static_cast<std::size_t>(n));
  const S keep = static_cast<S>(1.0 / (1.0 - p));
  for (auto& m : mask) m = rng.uniform() < p ? S(0) : keep;
}

}  // namespace minigpt
