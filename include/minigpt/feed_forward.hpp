// minigpt/feed_forward.hpp — the feed-forward block (MLP): Linear, GELU, Linear.
//
// Chapter idea: attention moves information between tokens; the feed-forward block then
// works on each token's vector alone, widening it to 4C numbers, bending it with a smooth
// nonlinearity (GELU) and projecting it back to C.
//
//     h   = x · W_fc + b_fc              (N, 4C)
//     a   = gelu(h)                      (N, 4C)
//     out = a · W_proj + b_proj          (N, C)
//
// GPT-2 uses GELU's tanh form ("gelu_new"):
//     gelu(x) = 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
// and some models use the exact form 0.5 x (1 + erf(x / sqrt 2)) ("gelu").
//
// Shapes: x (N, C) -> out (N, C); weights MLPWeights{c_fc (C, 4C) + (4C), c_proj (4C, C) + (C)}.
//
// Example: gelu(1) = 0.8412 (tanh form), gelu(0) = 0, gelu(-3) = -0.0036.
#pragma once

#include "block_config.hpp"
#include "detail/parallel.hpp"
#include "linear.hpp"
#include "tensor.hpp"

#include <cmath>

namespace minigpt {

template <typename S>
S gelu(S x, Activation kind) {
  if (kind == Activation::gelu_erf) return S(0.5) * x * (S(1) + std::erf(x * S(0.70710678118654752440)));
  const S k = S(0.79788456080286535588);  // sqrt(2/π)
  return S(0.5) * x * (S(1) + std::tanh(k * (x + S(0.044715) * x * x * x)));
}

// d gelu(x) / dx
template <typename S>
S gelu_grad(S x, Activation kind) {
  if (kind == Activation::gelu_erf) {
    const S cdf = S(0.5) * (S(1) + std::erf(x * S(0.70710678118654752440)));
    const S pdf = std::exp(S(-0.5) * x * x) * S(0.39894228040143267794);  // 1/sqrt(2π)
    return cdf + x * pdf;
  }
  const S k = S(0.79788456080286535588);
  const S th = std::tanh(k * (x + S(0.044715) * x * x * x));
  return S(0.5) * (S(1) + th) + S(0.5) * x * (S(1) - th * th) * k * (S(1) + S(3) * S(0.044715) * x * x);
}

// out (N, 4C) = gelu(h (N, 4C)), elementwise. The tanh form runs as Eigen array
// expressions, so it is vectorised (Eigen's tanh is accurate to a few ulp).
template <typename S>
void gelu_forward(MatrixRef<S> out, const ConstMatrixRef<S>& h, Activation kind) {
  const S k = S(0.79788456080286535588);  // sqrt(2/π)
  detail::parallel_for(h.rows(), static_cast<double>(20 * h.cols()), [&](Index n) {
    const auto x = h.row(n).array();
    if (kind == Activation::gelu_tanh)
      out.row(n).array() = S(0.5) * x * (S(1) + (k * (x + S(0.044715) * x.cube())).tanh());
    else
      for (Index j = 0; j < h.cols(); ++j) out(n, j) = gelu(h(n, j), kind);
  });
}

// Backward of  a = gelu(h):  dh += da · gelu'(h) (with add = false: dh = ...), where for the
// tanh form, with u = sqrt(2/π) (h + 0.044715 h³):
//     gelu'(h) = 0.5 (1 + tanh u) + 0.5 h (1 − tanh² u) sqrt(2/π) (1 + 3 · 0.044715 h²)
template <typename S>
void gelu_backward(MatrixRef<S> dh, const ConstMatrixRef<S>& da, const ConstMatrixRef<S>& h, Activation kind,
                   bool add = true) {
  const S k = S(0.79788456080286535588);
  detail::parallel_for(h.rows(), static_cast<double>(25 * h.cols()), [&](Index n) {
    const auto x = h.row(n).array();
    if (kind == Activation::gelu_tanh) {
      auto grad = [&](const auto& th) {  // gelu'(h) · da, given th = tanh u
        return da.row(n).array() *
               (S(0.5) * (S(1) + th) + S(0.5) * x * (S(1) - th.square()) * k * (S(1) + S(3 * 0.044715) * x.square()));
      };
      if (add) {
        const Eigen::Array<S, 1, Eigen::Dynamic> th = (k * (x + S(0.044715) * x.cube())).tanh();
        dh.row(n).array() += grad(th);
      } else {  // th kept in dh's own row first: no temporary
        dh.row(n).array() = (k * (x + S(0.044715) * x.cube())).tanh();
        dh.row(n).array() = grad(dh.row(n).array());
      }
    } else {
      for (Index j = 0; j < h.cols(); ++j) dh(n, j) = (add ? dh(n, j) : S(0)) + da(n, j) * gelu_grad(h(n, j), kind);
    }
  });
}

// The feed-forward block's weights (or their gradients), named as in GPT-2's checkpoints.
template <typename S>
struct MLPWeights {
  Linear<S> c_fc;    // C -> 4C: w (C, 4C), b (4C)
  Linear<S> c_proj;  // 4C -> C: w (4C, C), b (C)
};

// What the feed-forward block keeps for its backward pass, and the backward's scratch space
// (kept between calls so that a training step allocates nothing).
template <typename S>
struct FeedForwardActivations {
  Activation kind = Activation::gelu_tanh;  // of the forward that filled these
  Matrix<S> h;       // (N, 4C)  x · W_fc + b_fc
  Matrix<S> a;       // (N, 4C)  gelu(h)
  Matrix<S> da, dh;  // backward scratch (N, 4C)
};

// out (N, C) = gelu(x (N, C) · W_fc (C, 4C) + b_fc) · W_proj (4C, C) + b_proj
template <typename S>
void feed_forward_forward(MatrixRef<S> out, FeedForwardActivations<S>& acts, const ConstMatrixRef<S>& x,
                          const MLPWeights<S>& W, Activation kind) {
  const Index N = x.rows(), C = x.cols();
  acts.kind = kind;
  acts.h.resize(N, 4 * C);
  acts.a.resize(N, 4 * C);
  linear_forward<S>(acts.h, x, W.c_fc);        // h = x W_fc + b_fc
  gelu_forward<S>(acts.a, acts.h, kind);       // a = gelu(h)
  linear_forward<S>(out, acts.a, W.c_proj);    // out = a W_proj + b_proj
}

// Backward of feed_forward_forward, line by line in reverse. Accumulates into dx (N, C) and dW.
template <typename S>
void feed_forward_backward(MatrixRef<S> dx, MLPWeights<S>& dW, const ConstMatrixRef<S>& dout,
                           FeedForwardActivations<S>& acts, const ConstMatrixRef<S>& x, const MLPWeights<S>& W) {
  const Index N = x.rows(), C = x.cols();
  acts.da.resize(N, 4 * C);  // both written whole (add = false): no zeroing needed
  acts.dh.resize(N, 4 * C);
  // out = a W_proj + b_proj
  linear_backward<S>(acts.da, dW.c_proj, dout, acts.a, W.c_proj, /*add_din*/ false);
  // a = gelu(h)
  gelu_backward<S>(acts.dh, acts.da, acts.h, acts.kind, /*add*/ false);
  // h = x W_fc + b_fc
  linear_backward<S>(dx, dW.c_fc, acts.dh, x, W.c_fc);
}

}  // namespace minigpt
