// minigpt/block_config.hpp — what a decoder block needs to know besides its weights.
//
// Chapter idea: every decoder block of a GPT is the same recipe with different numbers. The
// numbers are its weights (decoder_block.hpp's BlockWeights); the recipe needs only three
// facts more: how many heads share the attention (H: 12 in GPT-2 small, 96 in GPT-3), the small
// epsilon that keeps layer normalisation from dividing by zero, and which smooth nonlinearity
// (GELU, in one of two forms) bends the feed-forward block. The model's whole configuration
// (config.hpp: sizes, the block size, the vocabulary, dropout, the config.json file) hands each
// block this much and no more, so the math headers never see the configuration file.
//
// Shapes in: none.  Shapes out: none.
//
// Example:
//     BlockConfig gpt2_small{/*n_head*/ 12, /*layer_norm_epsilon*/ 1e-5, Activation::gelu_tanh};
#pragma once

#include "token_id.hpp"

namespace minigpt {

// Which nonlinearity the feed-forward block uses (see feed_forward.hpp).
enum class Activation {
  gelu_tanh,  // GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
  gelu_erf,   // "gelu": 0.5 x (1 + erf(x / sqrt 2))
};

struct BlockConfig {
  Index n_head = 12;                 // H
  double layer_norm_epsilon = 1e-5;  // eps in layer_norm.hpp
  Activation activation = Activation::gelu_tanh;
};

}  // namespace minigpt
