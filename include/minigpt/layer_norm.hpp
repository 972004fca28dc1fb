// minigpt/layer_norm.hpp — layer normalisation.
//
// Chapter idea: before attention and before the feed-forward block, each token's vector is
// rescaled to mean 0 and variance 1, then stretched and shifted by learned weights. It keeps
// the numbers in a range where 96 stacked layers (GPT-3) still train.
//
//     mean = Σ x / C,   var = Σ (x − mean)² / C,   rstd = 1 / sqrt(var + eps)
//     out  = (x − mean) · rstd · weight + bias
//
// Shapes: x (N, C) -> out (N, C); W.w, W.b (C); saved for backward: mean, rstd (N).
//
// Example: x = [1 2 3], weight = [1 1 1], bias = [0 0 0], eps = 0
//   mean 2, var 2/3, rstd 1.2247  ->  out = [-1.2247  0  1.2247]
#pragma once

#include "detail/parallel.hpp"
#include "tensor.hpp"

#include <cmath>
#include <vector>

namespace minigpt {

// A layer norm's weights (or their gradients): w and b (C).
template <typename S>
struct Norm {
  TensorView<S> w, b;
};

// What the forward keeps for the backward: each row's mean and 1 / standard deviation.
template <typename S>
struct LayerNormActivations {
  std::vector<S> mean, rstd;  // (N)
};

// out (N, C) = layer_norm(x (N, C)) · W.w + W.b
template <typename S>
void layer_norm_forward(MatrixRef<S> out, LayerNormActivations<S>& acts, const ConstMatrixRef<S>& x, const Norm<S>& W,
                        S eps) {
  const Index N = x.rows(), C = x.cols();
  acts.mean.resize(static_cast<std::size_t>(N));
  acts.rstd.resize(static_cast<std::size_t>(N));
  const auto w = W.w.vector(), b = W.b.vector();
  detail::parallel_for(N, static_cast<double>(8 * C), [&](Index n) {
    const auto row = x.row(n).array();
    const S mean = row.sum() / S(C);
    const S var = (row - mean).square().sum() / S(C);
    const S rstd = S(1) / std::sqrt(var + eps);
    out.row(n).array() = (row - mean) * rstd * w.array() + b.array();
    acts.mean[static_cast<std::size_t>(n)] = mean;
    acts.rstd[static_cast<std::size_t>(n)] = rstd;
  });
}

// Backward of  out = (x − mean) · rstd · w + b.  Accumulates into dx (N, C) and dW. With
// xhat = (x − mean) · rstd and g = dout · w:
//   dx   += rstd · (g − mean(g) − xhat · mean(g · xhat))      (per row)
//   dW.w += Σ_rows dout · xhat
//   dW.b += Σ_rows dout
template <typename S>
void layer_norm_backward(MatrixRef<S> dx, Norm<S>& dW, const ConstMatrixRef<S>& dout,
                         const LayerNormActivations<S>& acts, const ConstMatrixRef<S>& x, const Norm<S>& W) {
  const Index N = x.rows(), C = x.cols();
  const auto w = W.w.vector();
  const S* mean = acts.mean.data();
  const S* rstd = acts.rstd.data();
  // Written as Eigen expressions that are evaluated in place: no (N, C) temporary per call.
  detail::parallel_for(N, static_cast<double>(12 * C), [&](Index n) {
    const auto xhat = (x.row(n).array() - mean[n]) * rstd[n];
    const auto g = dout.row(n).array() * w.array();
    const S g_mean = g.sum() / S(C);
    const S gx_mean = (g * xhat).sum() / S(C);
    dx.row(n).array() += rstd[n] * (g - g_mean - xhat * gx_mean);
  });
  // The weight and bias gradients sum over the rows: one row after another, in order.
  auto dw = dW.w.vector(), db = dW.b.vector();
  for (Index n = 0; n < N; ++n) {
    dw.array() += dout.row(n).array() * (x.row(n).array() - mean[n]) * rstd[n];
    db += dout.row(n);
  }
}

}  // namespace minigpt
