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
// Shapes: x (B*T, C) -> x (B*T, C).
#pragma once

#include "attention.hpp"
#include "config.hpp"
#include "dropout.hpp"
#include "feed_forward.hpp"
#include "layer_norm.hpp"
#include "parameters.hpp"
#include "tensor.hpp"

#include <vector>

namespace minigpt {

// Everything one block keeps from its forward pass for the backward pass.
template <typename S>
struct BlockActivations {
  Matrix<S> ln_1;                           // (B*T, C) ln_1(x)
  std::vector<S> ln_1_mean, ln_1_rstd;      // (B*T)
  AttentionActivations<S> attn;             // qkv, attention map, heads
  Matrix<S> attn_out;                       // (B*T, C) attn(ln_1(x)), after dropout
  Matrix<S> x_mid;                          // (B*T, C) x + attn(ln_1(x))
  Matrix<S> ln_2;                           // (B*T, C) ln_2(x_mid)
  std::vector<S> ln_2_mean, ln_2_rstd;      // (B*T)
  FeedForwardActivations<S> mlp;            // h, gelu(h)
  Matrix<S> mlp_out;                        // (B*T, C) mlp(ln_2(x_mid)), after dropout
  std::vector<S> attn_drop, mlp_drop;       // (B*T, C) residual-dropout masks; empty when off
};

// Dropout for one block in training: which masks to draw, from which generator.
struct BlockDropout {
  double attn_p = 0.0, resid_p = 0.0;
  Rng* rng = nullptr;  // null: no dropout
};

// x_out (B*T, C) = block(x (B*T, C)), the two residual lines above.
template <typename S>
void block_forward(MatrixRef<S> x_out, BlockActivations<S>& a, const ConstMatrixRef<S>& x,
                   const BlockTensors<S*>& w, const GPTConfig& c, Index B, Index T, KVCache<S>* cache,
                   Index layer, const BlockDropout& drop = {}) {
  const Index N = B * T, C = c.n_embd, H = c.n_head;
  const S eps = static_cast<S>(c.layer_norm_epsilon);
  a.ln_1.resize(N, C);
  a.ln_1_mean.resize(N);
  a.ln_1_rstd.resize(N);
  a.attn_out.resize(N, C);
  a.ln_2.resize(N, C);
  a.ln_2_mean.resize(N);
  a.ln_2_rstd.resize(N);
  a.mlp_out.resize(N, C);
  const bool dropping = drop.rng != nullptr;
  const Index Tk = (cache != nullptr ? cache->size() : 0) + T;
  if (dropping && drop.attn_p > 0) make_dropout_mask(a.attn.dropout, B * H * T * Tk, drop.attn_p, *drop.rng);
  else a.attn.dropout.clear();
  if (dropping && drop.resid_p > 0) {
    make_dropout_mask(a.attn_drop, N * C, drop.resid_p, *drop.rng);
    make_dropout_mask(a.mlp_drop, N * C, drop.resid_p, *drop.rng);
  } else {
    a.attn_drop.clear();
    a.mlp_drop.clear();
  }

  // x = x + attn(ln_1(x))
  layer_norm_forward<S>(a.ln_1, a.ln_1_mean.data(), a.ln_1_rstd.data(), x, w.ln_1_w, w.ln_1_b, eps);
  self_attention_forward<S>(a.attn_out, a.attn, a.ln_1, w.attn_w, w.attn_b, w.attn_proj_w, w.attn_proj_b, B, T, H,
                            cache, layer);
  if (!a.attn_drop.empty()) a.attn_out.array() *= MatrixMap<S>(a.attn_drop.data(), N, C).array();
  a.x_mid = x + a.attn_out;

  // x = x + mlp(ln_2(x))
  layer_norm_forward<S>(a.ln_2, a.ln_2_mean.data(), a.ln_2_rstd.data(), a.x_mid, w.ln_2_w, w.ln_2_b, eps);
  feed_forward_forward<S>(a.mlp_out, a.mlp, a.ln_2, w.fc_w, w.fc_b, w.fc_proj_w, w.fc_proj_b, c.activation());
  if (!a.mlp_drop.empty()) a.mlp_out.array() *= MatrixMap<S>(a.mlp_drop.data(), N, C).array();
  x_out = a.x_mid + a.mlp_out;
}

// Scratch space for block_backward, kept by the caller (GPT) between calls so that a training
// step allocates nothing.
template <typename S>
struct BlockScratch {
  Matrix<S> dx_mid, dbranch, dln;  // (B*T, C)
  FeedForwardScratch<S> mlp;
  AttentionScratch<S> attn;
};

// Backward of block_forward, line by line in reverse. dx_out (B*T, C) is the gradient of the
// block's output; returns the gradient of its input in dx (B*T, C) (overwritten) and adds the
// block's parameter gradients into g. scratch may be null (then it is allocated here).
template <typename S>
void block_backward(MatrixRef<S> dx, const BlockTensors<S*>& g, const ConstMatrixRef<S>& dx_out,
                    const BlockActivations<S>& a, const ConstMatrixRef<S>& x, const BlockTensors<S*>& w,
                    const GPTConfig& c, Index B, Index T, BlockScratch<S>* scratch = nullptr) {
  const Index N = B * T, C = c.n_embd;
  BlockScratch<S> local;
  BlockScratch<S>& s = scratch != nullptr ? *scratch : local;
  // x_out = x_mid + mlp(ln_2(x_mid)): the residual passes dx_out straight through, and the
  // branch adds its own gradient.
  s.dx_mid = dx_out;
  s.dbranch = dx_out;  // gradient of mlp_out (before dropout)
  if (!a.mlp_drop.empty()) s.dbranch.array() *= ConstMatrixMap<S>(a.mlp_drop.data(), N, C).array();
  s.dln.setZero(N, C);
  feed_forward_backward<S>(s.dln, g.fc_w, g.fc_b, g.fc_proj_w, g.fc_proj_b, s.dbranch, a.mlp, a.ln_2, w.fc_w,
                           w.fc_proj_w, c.activation(), &s.mlp);
  layer_norm_backward<S>(s.dx_mid, g.ln_2_w, g.ln_2_b, s.dln, a.x_mid, a.ln_2_mean.data(), a.ln_2_rstd.data(),
                         w.ln_2_w);
  // x_mid = x + attn(ln_1(x))
  dx = s.dx_mid;
  s.dbranch = s.dx_mid;  // gradient of attn_out (before dropout)
  if (!a.attn_drop.empty()) s.dbranch.array() *= ConstMatrixMap<S>(a.attn_drop.data(), N, C).array();
  s.dln.setZero(N, C);
  self_attention_backward<S>(s.dln, g.attn_w, g.attn_b, g.attn_proj_w, g.attn_proj_b, s.dbranch, a.attn, a.ln_1,
                             w.attn_w, w.attn_proj_w, B, T, c.n_head, &s.attn);
  layer_norm_backward<S>(dx, g.ln_1_w, g.ln_1_b, s.dln, x, a.ln_1_mean.data(), a.ln_1_rstd.data(), w.ln_1_w);
}

}  // namespace minigpt
