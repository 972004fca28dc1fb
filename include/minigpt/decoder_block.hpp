// minigpt/decoder_block.hpp — one decoder block (트랜스포머 디코더 블록).
//
// Chapter idea: GPT is a stack of identical blocks (12 in GPT-2 small, 96 in GPT-3). Each
// block lets the tokens exchange information through masked self-attention, then lets each
// token think on its own in the feed-forward block. Both halves read a normalised copy of
// the stream and add their result back onto it (a residual connection):
//
//     x = x + attn(ln_1(x))
//     x = x + mlp(ln_2(x))
//
// block_forward below is these two lines, written in C++; block_backward walks them back.
//
// Shapes: x (B*T, C) -> x (B*T, C). Weights: BlockWeights{ln_1, attn, ln_2, mlp}, named as in
// GPT-2's checkpoints (h.{i}.ln_1.weight, h.{i}.attn.c_attn.weight, ...).
//
// Example (one block of GPT-2 small on 5 tokens):
//     BlockActivations<float> acts;
//     block_forward<float>(x_out, acts, x, weights.h[0], {BlockConfig{12, 1e-5}, {1, 5}});
//     // x_out (5, 768); acts.attn.att holds block 0's attention map (12 * 5, 5)
#pragma once

#include "attention.hpp"
#include "block_config.hpp"
#include "dropout.hpp"
#include "feed_forward.hpp"
#include "kv_cache.hpp"
#include "layer_norm.hpp"
#include "random.hpp"
#include "tensor.hpp"

#include <string>
#include <vector>

namespace minigpt {

// One block's weights (or their gradients).
template <typename S>
struct BlockWeights {
  Norm<S> ln_1;              // w, b (C)
  AttentionWeights<S> attn;  // c_attn, c_proj
  Norm<S> ln_2;              // w, b (C)
  MLPWeights<S> mlp;         // c_fc, c_proj
};

// Dropout for one block in training: which masks to draw, from which generator.
struct BlockDropout {
  double attn_p = 0.0, resid_p = 0.0;
  Rng* rng = nullptr;  // null: no dropout
};

// What one call of a block needs besides its input and weights.
template <typename S>
struct BlockContext {
  BlockConfig config;
  BatchShape shape;                  // B sequences of T tokens: x has B*T rows
  KVCacheLayer<S>* cache = nullptr;  // generating: this layer's keys and values
  BlockDropout dropout;              // training with dropout
};

// Everything one block keeps from its forward pass for the backward pass, and the
// backward's scratch space (kept between steps, so that a training step allocates nothing).
template <typename S>
struct BlockActivations {
  BlockConfig config;                  // of the forward that filled these
  Matrix<S> ln_1;                      // (B*T, C) ln_1(x)
  LayerNormActivations<S> ln_1_acts;   // mean, rstd (B*T)
  AttentionActivations<S> attn;        // qkv, attention map, heads
  Matrix<S> attn_out;                  // (B*T, C) attn(ln_1(x)), after dropout
  Matrix<S> x_mid;                     // (B*T, C) x + attn(ln_1(x))
  Matrix<S> ln_2;                      // (B*T, C) ln_2(x_mid)
  LayerNormActivations<S> ln_2_acts;   // mean, rstd (B*T)
  FeedForwardActivations<S> mlp;       // h, gelu(h)
  Matrix<S> mlp_out;                   // (B*T, C) mlp(ln_2(x_mid)), after dropout
  std::vector<S> attn_drop, mlp_drop;  // (B*T, C) residual-dropout masks; empty when off
  Matrix<S> dx_mid, dbranch, dln;      // backward scratch (B*T, C)
};

// The block's activations in the order the forward computes them, each with the name that
// says where it came from: visit(name, matrix). (For finding the first NaN, gpt.hpp.)
template <typename S, typename F>
void for_each_activation(const BlockActivations<S>& a, F&& visit) {
  visit("ln_1", a.ln_1);
  visit("attn.c_attn (Q, K, V)", a.attn.qkv);
  visit("attn (the attention map)", a.attn.att);
  visit("attn (att · V)", a.attn.heads);
  visit("attn.c_proj", a.attn_out);
  visit("x + attn(ln_1(x))", a.x_mid);
  visit("ln_2", a.ln_2);
  visit("mlp.c_fc (x · W_fc + b_fc)", a.mlp.h);
  visit("mlp (gelu)", a.mlp.a);
  visit("mlp.c_proj", a.mlp_out);
}

// ---- dropout inside the block (off unless the config asks for it in training) ----

// Draws the block's three masks (attention, then the two residual branches), or clears them.
template <typename S>
void draw_dropout_masks(BlockActivations<S>& a, const BlockContext<S>& ctx, Index stream_size, Index map_size) {
  const BlockDropout& d = ctx.dropout;
  if (d.rng != nullptr && d.attn_p > 0) make_dropout_mask(a.attn.dropout, map_size, d.attn_p, *d.rng);
  else a.attn.dropout.clear();
  if (d.rng != nullptr && d.resid_p > 0) {
    make_dropout_mask(a.attn_drop, stream_size, d.resid_p, *d.rng);
    make_dropout_mask(a.mlp_drop, stream_size, d.resid_p, *d.rng);
  } else {
    a.attn_drop.clear();
    a.mlp_drop.clear();
  }
}

// m ⊙ mask, in place, when the mask is not empty; returns m.
template <typename S>
const Matrix<S>& apply_dropout(Matrix<S>& m, const std::vector<S>& mask) {
  if (!mask.empty()) m.array() *= ConstMatrixMap<S>(mask.data(), m.rows(), m.cols()).array();
  return m;
}

// x_out (B*T, C) = block(x (B*T, C)): the chapter's two lines.
template <typename S>
void block_forward(MatrixRef<S> x_out, BlockActivations<S>& a, const ConstMatrixRef<S>& x, const BlockWeights<S>& W,
                   const BlockContext<S>& ctx) {
  const Index N = ctx.shape.tokens(), C = x.cols(), H = ctx.config.n_head;
  const S eps = static_cast<S>(ctx.config.layer_norm_epsilon);
  const AttentionShape attention_shape{ctx.shape.B, ctx.shape.T, H};
  a.config = ctx.config;
  draw_dropout_masks(a, ctx, N * C, ctx.shape.B * H * ctx.shape.T * ((ctx.cache ? ctx.cache->size() : 0) + ctx.shape.T));

  // The four sub-layers, each a function of its input that leaves its output in `a`.
  auto ln_1 = [&](const ConstMatrixRef<S>& in) -> const Matrix<S>& {
    a.ln_1.resize(N, C);
    layer_norm_forward<S>(a.ln_1, a.ln_1_acts, in, W.ln_1, eps);
    return a.ln_1;
  };
  auto attn = [&](const Matrix<S>& in) -> const Matrix<S>& {
    a.attn_out.resize(N, C);
    self_attention_forward<S>(a.attn_out, a.attn, in, W.attn, attention_shape, ctx.cache);
    return apply_dropout(a.attn_out, a.attn_drop);
  };
  auto ln_2 = [&](const Matrix<S>& in) -> const Matrix<S>& {
    a.ln_2.resize(N, C);
    layer_norm_forward<S>(a.ln_2, a.ln_2_acts, in, W.ln_2, eps);
    return a.ln_2;
  };
  auto mlp = [&](const Matrix<S>& in) -> const Matrix<S>& {
    a.mlp_out.resize(N, C);
    feed_forward_forward<S>(a.mlp_out, a.mlp, in, W.mlp, ctx.config.activation);
    return apply_dropout(a.mlp_out, a.mlp_drop);
  };

  a.x_mid = x + attn(ln_1(x));            // x = x + attn(ln_1(x))
  x_out = a.x_mid + mlp(ln_2(a.x_mid));   // x = x + mlp(ln_2(x))
}

// Backward of block_forward: dx (B*T, C) (overwritten) from dx_out (B*T, C), the gradient of
// the block's output; the block's weight gradients are added into dW.
template <typename S>
void block_backward(MatrixRef<S> dx, BlockWeights<S>& dW, const ConstMatrixRef<S>& dx_out, BlockActivations<S>& a,
                    const ConstMatrixRef<S>& x, const BlockWeights<S>& W) {
  const Index N = x.rows(), C = x.cols();
  // Each sub-layer's backward: from the gradient of its output, the gradient of its input
  // (the branches' into a.dln; the norms' added into the residual stream's gradient).
  auto mlp_backward = [&](const ConstMatrixRef<S>& dout) -> const Matrix<S>& {
    a.dbranch = dout;
    apply_dropout(a.dbranch, a.mlp_drop);
    a.dln.setZero(N, C);
    feed_forward_backward<S>(a.dln, dW.mlp, a.dbranch, a.mlp, a.ln_2, W.mlp);
    return a.dln;
  };
  auto ln_2_backward = [&](MatrixRef<S> dstream, const Matrix<S>& dln) {
    layer_norm_backward<S>(dstream, dW.ln_2, dln, a.ln_2_acts, a.x_mid, W.ln_2);
  };
  auto attn_backward = [&](const ConstMatrixRef<S>& dout) -> const Matrix<S>& {
    a.dbranch = dout;
    apply_dropout(a.dbranch, a.attn_drop);
    a.dln.setZero(N, C);
    self_attention_backward<S>(a.dln, dW.attn, a.dbranch, a.attn, a.ln_1, W.attn);
    return a.dln;
  };
  auto ln_1_backward = [&](MatrixRef<S> dstream, const Matrix<S>& dln) {
    layer_norm_backward<S>(dstream, dW.ln_1, dln, a.ln_1_acts, x, W.ln_1);
  };

  // x = x + mlp(ln_2(x)): the residual passes the gradient straight through, the branch adds its own
  a.dx_mid = dx_out;
  ln_2_backward(a.dx_mid, mlp_backward(dx_out));
  // x = x + attn(ln_1(x))
  dx = a.dx_mid;
  ln_1_backward(dx, attn_backward(a.dx_mid));
}

}  // namespace minigpt
