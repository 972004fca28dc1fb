// minigpt/attention.hpp — masked multi-head self-attention (마스크드 멀티 헤드 셀프 어텐션).
//
// Chapter idea: each token's vector is turned into a query Q ("what am I looking for?"), a
// key K ("what do I contain?") and a value V ("what do I pass on?"). Every query is compared
// with every key; the scores, softmaxed row by row, are the attention map (어텐션맵: rows are
// queries, columns keys). The output for a token is the attention-weighted sum of the values.
// Because GPT predicts the next token, no token may look at tokens after it: the upper-right
// half of the map is masked (마스킹). The work is split into H heads of hs = C / H numbers each,
// all computed side by side (GPT-3: 96 heads × 128 = 12,288), then merged back into C.
//
// For one head of one sequence, with queries at positions pos0 .. pos0+T-1:
//     scores = Q Kᵀ / sqrt(hs)                     (T, Tk)
//     scores[t, j] = −∞  where !causal_mask(pos0 + t, j)
//     att    = softmax of each row of scores        (T, Tk)   the attention map
//     Y      = att V                                (T, hs)
//
// Shapes: x (B*T, C) -> [Q | K | V] = x · W_attn + b_attn (B*T, 3C), head h using columns
//         h*hs .. (h+1)*hs of each third -> heads side by side (B*T, C) -> out (B*T, C);
//         att (B*H*T, Tk), row (b*H + h)*T + t. Weights: AttentionWeights{c_attn (C, 3C) + (3C),
//         c_proj (C, C) + (C)}. Tk = T in training; with a KV cache, Tk = tokens cached before + T.
//
// Example (one head, hs = 1, T = 2): Q = K = [[1], [2]], V = [[10], [20]]
//     scores = [[1 2], [2 4]];  masked: [[1 −∞], [2 4]]
//     att = [[1 0], [0.119 0.881]];  Y = [[10], [18.81]]
#pragma once

#include "detail/parallel.hpp"
#include "kv_cache.hpp"
#include "linear.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace minigpt {

// The causal mask: may the query at absolute position query_pos look at the key at key_pos?
// Only at itself and the past.
inline bool causal_mask(Index query_pos, Index key_pos) { return key_pos <= query_pos; }

// scores (T, Tk): every entry the causal mask forbids becomes −∞ (so softmax gives it 0).
template <typename S>
void apply_causal_mask(MatrixRef<S> scores, Index pos0) {
  for (Index t = 0; t < scores.rows(); ++t)
    for (Index j = 0; j < scores.cols(); ++j)
      if (!causal_mask(pos0 + t, j)) scores(t, j) = -std::numeric_limits<S>::infinity();
}

// Each row of x becomes exp(x − max) / Σ exp(x − max). Every row must hold a finite entry
// (the causal mask always leaves a query its own key). Masked (−∞) entries become exactly 0:
// a vectorised exp may round exp(−∞) to a tiny number instead.
template <typename S>
void softmax_rows(MatrixRef<S> x) {
  const S minus_inf = -std::numeric_limits<S>::infinity();
  for (Index t = 0; t < x.rows(); ++t) {
    auto row = x.row(t).array();
    row = (row == minus_inf).select(S(0), (row - row.maxCoeff()).exp());
    row /= row.sum();
  }
}

// apply_causal_mask then softmax_rows in one pass, as the forward pass uses them: row t keeps
// its first pos0 + t + 1 entries (the keys the mask allows) and softmaxes them; the rest
// become 0. The same attention map, without computing exp(−∞) for the masked half.
template <typename S>
void masked_softmax_rows(MatrixRef<S> scores, Index pos0) {
  const Index Tk = scores.cols();
  for (Index t = 0; t < scores.rows(); ++t) {
    const Index visible = std::min(Tk, pos0 + t + 1);  // keys j with causal_mask(pos0 + t, j)
    auto seen = scores.row(t).head(visible).array();
    seen = (seen - seen.maxCoeff()).exp();
    seen /= seen.sum();
    scores.row(t).tail(Tk - visible).setZero();
  }
}

// One head of one sequence:  y (T, hs) = softmax(mask(q kᵀ / sqrt(hs))) v;  att (T, Tk) kept.
// q (T, hs), k (Tk, hs), v (Tk, hs). dropout (T, Tk), when non-null, multiplies att before
// it meets v (entries 0 or 1/(1−p)); att itself is stored undropped.
template <typename S>
void attention_head_forward(MatrixRef<S> y, MatrixRef<S> att, const ConstMatrixRef<S>& q,
                            const ConstMatrixRef<S>& k, const ConstMatrixRef<S>& v, Index pos0,
                            const S* dropout = nullptr) {
  const S scale = S(1) / std::sqrt(static_cast<S>(q.cols()));
  att.noalias() = (q * k.transpose()) * scale;  // how well each query matches each key
  masked_softmax_rows<S>(att, pos0);            // no peeking at the future; each row sums to 1
  if (dropout == nullptr)
    y.noalias() = att * v;  // weighted sum of the values
  else
    y.noalias() = (att.array() * ConstMatrixMap<S>(dropout, att.rows(), att.cols()).array()).matrix() * v;
}

// Backward of one head. Accumulates into dq (T, hs), dk (Tk, hs), dv (Tk, hs), or with
// add = false overwrites them.
//   forward  y = att' v  (att' = att · dropout)  ->  datt' = dy vᵀ,  dv += att'ᵀ dy
//   forward  att = softmax(scores)               ->  dscores = att · (datt − rowsum(datt · att))
//   forward  scores = q kᵀ · scale               ->  dq += dscores k · scale,  dk += dscoresᵀ q · scale
// Masked entries have att = 0, so they pass no gradient: the mask needs no backward of its own.
template <typename S>
void attention_head_backward(MatrixRef<S> dq, MatrixRef<S> dk, MatrixRef<S> dv, const ConstMatrixRef<S>& dy,
                             const ConstMatrixRef<S>& q, const ConstMatrixRef<S>& k,
                             const ConstMatrixRef<S>& v, const ConstMatrixRef<S>& att,
                             const S* dropout = nullptr, bool add = true) {
  const S scale = S(1) / std::sqrt(static_cast<S>(q.cols()));
  Matrix<S> datt = dy * v.transpose();  // (T, Tk)
  if (dropout == nullptr) {
    if (add) dv.noalias() += att.transpose() * dy;
    else dv.noalias() = att.transpose() * dy;
  } else {
    const ConstMatrixMap<S> mask(dropout, att.rows(), att.cols());
    if (add) dv.noalias() += (att.array() * mask.array()).matrix().transpose() * dy;
    else dv.noalias() = (att.array() * mask.array()).matrix().transpose() * dy;
    datt.array() *= mask.array();
  }
  for (Index t = 0; t < att.rows(); ++t) {
    const S inner = datt.row(t).dot(att.row(t));
    datt.row(t).array() = att.row(t).array() * (datt.row(t).array() - inner);  // now dscores
  }
  if (add) {
    dq.noalias() += (datt * k) * scale;
    dk.noalias() += (datt.transpose() * q) * scale;
  } else {
    dq.noalias() = (datt * k) * scale;
    dk.noalias() = (datt.transpose() * q) * scale;
  }
}

// The shape of one attention call: B sequences of T new tokens each, H heads.
struct AttentionShape {
  Index B = 0, T = 0, H = 0;
};

// All heads of all sequences.
//   qkv (B*T, 3C) -> y (B*T, C), att (B*H*T, Tk)
// Without a cache, K and V are read from qkv itself (Tk = T, pos0 = 0). With a cache, this
// layer's new K and V rows of sequence b are first written into it at positions
// pos0 .. pos0+T-1 (pos0 = cache->size(b), its own length: sequences may differ), and its
// queries attend to its pos0 + T cached rows. att has Tk = the longest pos0 + T columns;
// a shorter sequence's rows end in zeros.
// dropout (B*H*T, Tk), when non-null, is the attention-dropout mask.
template <typename S>
void multi_head_attention_forward(MatrixRef<S> y, MatrixRef<S> att, const ConstMatrixRef<S>& qkv,
                                  const AttentionShape& shape, KVCacheLayer<S>* cache, const S* dropout = nullptr) {
  const Index B = shape.B, T = shape.T, H = shape.H, C = y.cols(), hs = C / H;
  const Index Tk = (cache != nullptr ? cache->size() : 0) + T;
  detail::parallel_for(B * H, static_cast<double>(4 * T * Tk * hs), [&](Index bh) {
    const Index b = bh / H, h = bh % H;
    const auto q = qkv.block(b * T, h * hs, T, hs);
    const auto k_new = qkv.block(b * T, C + h * hs, T, hs);
    const auto v_new = qkv.block(b * T, 2 * C + h * hs, T, hs);
    auto y_bh = y.block(b * T, h * hs, T, hs);
    const S* drop = dropout != nullptr ? dropout + bh * T * Tk : nullptr;
    if (cache == nullptr) {
      attention_head_forward<S>(y_bh, att.block(bh * T, 0, T, Tk), q, k_new, v_new, 0, drop);
    } else {
      const Index pos0 = cache->size(b), tk = pos0 + T;  // this sequence's keys
      auto keys = cache->keys(b, h);
      auto values = cache->values(b, h);
      keys.middleRows(pos0, T) = k_new;
      values.middleRows(pos0, T) = v_new;
      attention_head_forward<S>(y_bh, att.block(bh * T, 0, T, tk), q, keys.topRows(tk), values.topRows(tk), pos0, drop);
      att.block(bh * T, tk, T, Tk - tk).setZero();
    }
  });
}

// Backward of multi_head_attention_forward without a cache (training).
// Accumulates into dqkv (B*T, 3C) from dy (B*T, C), or with add = false overwrites it; reads
// qkv and att as the forward left them.
template <typename S>
void multi_head_attention_backward(MatrixRef<S> dqkv, const ConstMatrixRef<S>& dy, const ConstMatrixRef<S>& qkv,
                                   const ConstMatrixRef<S>& att, const AttentionShape& shape,
                                   const S* dropout = nullptr, bool add = true) {
  const Index B = shape.B, T = shape.T, H = shape.H, C = dy.cols(), hs = C / H;
  detail::parallel_for(B * H, static_cast<double>(8 * T * T * hs), [&](Index bh) {
    const Index b = bh / H, h = bh % H;
    attention_head_backward<S>(dqkv.block(b * T, h * hs, T, hs), dqkv.block(b * T, C + h * hs, T, hs),
                               dqkv.block(b * T, 2 * C + h * hs, T, hs), dy.block(b * T, h * hs, T, hs),
                               qkv.block(b * T, h * hs, T, hs), qkv.block(b * T, C + h * hs, T, hs),
                               qkv.block(b * T, 2 * C + h * hs, T, hs), att.block(bh * T, 0, T, T),
                               dropout != nullptr ? dropout + bh * T * T : nullptr, add);
  });
}

// ---- the attention half of a decoder block: projections around the heads ----

// Self-attention's weights (or their gradients), named as in GPT-2's checkpoints.
template <typename S>
struct AttentionWeights {
  Linear<S> c_attn;  // x -> [Q | K | V]: w (C, 3C), b (3C)
  Linear<S> c_proj;  // heads merged -> C: w (C, C), b (C)
};

// What self-attention keeps for its backward pass (and for showing the attention map), and
// the backward's scratch space, kept between calls so that a training step allocates nothing.
template <typename S>
struct AttentionActivations {
  AttentionShape shape;    // of the forward that filled these
  Matrix<S> qkv;           // (B*T, 3C)   [Q | K | V] = x · W_attn + b_attn
  Matrix<S> att;           // (B*H*T, Tk) the attention map of every sequence and head
  Matrix<S> heads;         // (B*T, C)    att · V, heads side by side
  std::vector<S> dropout;  // (B*H*T, Tk) attention-dropout mask; empty when off
  Matrix<S> dheads, dqkv;  // backward scratch: (B*T, C), (B*T, 3C)
};

// out (B*T, C) = c_proj(masked multi-head attention(c_attn(x (B*T, C))))
// With a cache (generation), the new keys and values are added to it and the queries
// attend to everything cached; a.dropout, when not empty, is the attention-dropout mask.
template <typename S>
void self_attention_forward(MatrixRef<S> out, AttentionActivations<S>& a, const ConstMatrixRef<S>& x,
                            const AttentionWeights<S>& W, const AttentionShape& shape,
                            KVCacheLayer<S>* cache = nullptr) {
  const Index C = x.cols(), Tk = (cache != nullptr ? cache->size() : 0) + shape.T;
  a.shape = shape;
  a.qkv.resize(shape.B * shape.T, 3 * C);
  a.att.resize(shape.B * shape.H * shape.T, Tk);
  a.heads.resize(shape.B * shape.T, C);
  linear_forward<S>(a.qkv, x, W.c_attn);  // Q, K, V for every token
  multi_head_attention_forward<S>(a.heads, a.att, a.qkv, shape, cache, a.dropout.empty() ? nullptr : a.dropout.data());
  linear_forward<S>(out, a.heads, W.c_proj);  // heads merged back into C
}

// Backward of self_attention_forward (training, no cache), line by line in reverse.
// Accumulates into dx (B*T, C) and dW.
template <typename S>
void self_attention_backward(MatrixRef<S> dx, AttentionWeights<S>& dW, const ConstMatrixRef<S>& dout,
                             AttentionActivations<S>& a, const ConstMatrixRef<S>& x, const AttentionWeights<S>& W) {
  const Index N = x.rows(), C = x.cols();
  a.dheads.resize(N, C);  // both written whole (add = false): no zeroing needed
  a.dqkv.resize(N, 3 * C);
  // out = heads · W_proj + b_proj
  linear_backward<S>(a.dheads, dW.c_proj, dout, a.heads, W.c_proj, /*add_din*/ false);
  // heads = attention(qkv)
  multi_head_attention_backward<S>(a.dqkv, a.dheads, a.qkv, a.att, a.shape,
                                   a.dropout.empty() ? nullptr : a.dropout.data(), /*add*/ false);
  // qkv = x · W_attn + b_attn
  linear_backward<S>(dx, dW.c_attn, a.dqkv, x, W.c_attn);
}

}  // namespace minigpt
