// minigpt/layer_norm.hpp — layer normalisation.
//
// Chapter idea: before attention and before the feed-forward block, each token's vector is
// rescaled to mean 0 and variance 1, then stretched and shifted by learned weights. It keeps
// the numbers in a range where 96 stacked layers (GPT-3) still train.
//
//     mean = Σ x / C,   var = Σ (x − mean)² / C,   rstd = 1 / sqrt(var + eps)
//     out  = (x − mean) · rstd · weight + bias
//
// Shapes: x (N, C) -> out (N, C); weight, bias (C); saved for backward: mean, rstd (N).
//
// Example: x = [1 2 3], weight = [1 1 1], bias = [0 0 0], eps = 0
//   mean 2, var 2/3, rstd 1.2247  ->  out = [-1.2247  0  1.2247]
#pragma once

#include "detail/parallel.hpp"
#include "tensor.hpp"

#include <cmath>

namespace minigpt {

// out (N, C) = layer_norm(x (N, C)); mean, rstd (N) saved when non-null.
template <typename S>
void layer_norm_forward(MatrixRef<S> out, S* mean, S* rstd, const ConstMatrixRef<S>& x, const S* weight,
                        const S* bias, S eps) {
  const Index N = x.rows(), C = x.cols();
  const ConstRowVectorMap<S> w(weight, C), b(bias, C);
  detail::parallel_for(N, static_cast<double>(8 * C), [&](Index n) {
    const auto row = x.row(n);
    const S m = row.sum() / S(C);
    const S var = (row.array() - m).square().sum() / S(C);
    const S r = S(1) / std::sqrt(var + eps);
    out.row(n) = ((row.array() - m) * r * w.array() + b.array()).matrix();
    if (mean != nullptr) mean[n] = m;
    if (rstd != nullptr) rstd[n] = r;
  });
}

// Backward of  out = (x − mean) · rstd · weight + bias.  Accumulates into dx (N, C),
// dweight (C), dbias (C). With xhat = (x − mean) · rstd and g = dout · weight:
//   dx      += rstd · (g − mean(g) − xhat · mean(g · xhat))      (per row)
//   dweight += Σ_rows dout · xhat
//   dbias   += Σ_rows dout
template <typename S>
void layer_norm_backward(MatrixRef<S> dx, S* dweight, S* dbias, const ConstMatrixRef<S>& dout,
                         const ConstMatrixRef<S>& x, const S* mean, const S* rstd, const S* weight) {
  const Index N = x.rows(), C = x.cols();
  const ConstRowVectorMap<S> w(weight, C);
  // Written as Eigen expressions that are evaluated in place: no (N, C) temporary per call.
  detail::parallel_for(N, static_cast<double>(12 * C), [&](Index n) {
    const auto xhat = (x.row(n).array() - mean[n]) * rstd[n];
    const auto g = dout.row(n).array() * w.array();
    const S g_mean = g.sum() / S(C);
    const S gx_mean = (g * xhat).sum() / S(C);
    dx.row(n).array() += rstd[n] * (g - g_mean - xhat * gx_mean);
  });
  // The weight and bias gradients sum over the rows: one row after another, in order.
  RowVectorMap<S> dw(dweight, C), db(dbias, C);
  for (Index n = 0; n < N; ++n) {
    dw.array() += dout.row(n).array() * (x.row(n).array() - mean[n]) * rstd[n];
    db += dout.row(n);
  }
}

}  // namespace minigpt
