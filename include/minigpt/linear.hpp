// minigpt/linear.hpp — the linear layer: every "projection" in the chapter.
//
// Chapter idea: Q, K and V are made from each token's vector by multiplying it with a learned
// matrix; so are the attention output, both halves of the feed-forward block and the final
// step from vectors back to token scores. All of them are one operation:
//
//     out (N, out) = in (N, in) · W (in, out) + b (out)         N = B*T tokens
//
// W is stored (in, out), the orientation of GPT-2's "Conv1D" weights in its checkpoints, so a
// Hugging Face file's bytes are used as they are. The tied LM head passes wte.transpose() as
// W; Eigen reads it in place, without a copy.
//
// A layer's weights travel together as Linear<S>: w (in, out) and b (out), shaped once by the
// parameter table (parameters.hpp). Gradients use the same type.
//
// For inference the same W may also be held in fewer bytes (weight_format.hpp): bf16, or Q8_0
// blocks of 32 int8 values with one scale. Linear<S>::packed then points at that copy, stored
// (out, in) as the kernels read it (detail/quant.hpp), and linear_forward multiplies by it
// instead of w: the one place where the weight format is dispatched. Training never sets it
// (the model refuses to train on packed weights), so its path is the f32 one, unchanged.
//
// Example: C = 2 channels in, 3 out, one token:
//     in = [1 2], W = [[1 0 1], [0 1 1]], b = [0 0 1]   ->   out = [1 2 4]
#pragma once

#include "detail/parallel.hpp"
#include "detail/product.hpp"
#include "detail/quant.hpp"
#include "tensor.hpp"

#include <algorithm>
#include <type_traits>

namespace minigpt {

// The weights of one linear layer (or their gradients).
template <typename S>
struct Linear {
  TensorView<S> w;  // (in, out)
  TensorView<S> b;  // (out)
  const detail::PackedMatrix* packed = nullptr;  // inference only: W as (out, in) in bf16 or Q8_0
};

// out (N, out) = in (N, in) · weight (in, out) + bias (out); bias may be null.
// Many tokens: one matrix product, in pieces shared among the cores (detail/product.hpp). A few tokens, as when
// generating with a KV cache: the output columns are split over the cores, because a
// matrix-vector product is bound by reading W from memory and one core cannot saturate it.
template <typename S, typename W>
void linear_forward(MatrixRef<S> out, const ConstMatrixRef<S>& in, const Eigen::MatrixBase<W>& weight,
                    const S* bias) {
  const Index N = in.rows(), n_out = weight.cols();
  if (N >= 8) {
    // out = b in every row, then out += in · W: the product adds onto the bias rather than
    // onto zeros it would write first, and no third pass adds the bias.
    if (bias != nullptr) out.rowwise() = ConstRowVectorMap<S>(bias, n_out);
    detail::product(out, in, weight, /*accumulate*/ bias != nullptr);
    return;
  }
  // One contiguous range of output columns per thread (multiples of 16 floats, a cache
  // line), so each thread streams its own part of every row of W.
  const Index parts = std::min<Index>(detail::max_threads(), (n_out + 15) / 16);
  const Index width = ((n_out + parts - 1) / parts + 15) / 16 * 16;
  detail::parallel_for(parts, static_cast<double>(N * weight.rows() * width), [&](Index part) {
    const Index c0 = std::min(part * width, n_out), n = std::min(width, n_out - c0);
    if (n > 0) out.middleCols(c0, n).noalias() = in * weight.middleCols(c0, n);
  });
  if (bias != nullptr) out.rowwise() += ConstRowVectorMap<S>(bias, n_out);
}

// out (N, out) = in (N, in) · packed (out, in)ᵀ + bias (out): the same product with the
// weights in bf16 or Q8_0 (float only; bias may be null).
template <typename S>
void packed_linear_forward(MatrixRef<S> out, const ConstMatrixRef<S>& in, const detail::PackedMatrix& packed,
                           const S* bias) {
  static_assert(std::is_same<S, float>::value, "bf16 and Q8_0 weights run in float");
  detail::packed_matmul(out.data(), out.outerStride(), in.data(), in.outerStride(), in.rows(), packed, bias);
}

// out (N, out) = in (N, in) · W.w (in, out) + W.b (out), with W's packed copy when it has one.
template <typename S>
void linear_forward(MatrixRef<S> out, const ConstMatrixRef<S>& in, const Linear<S>& W) {
  if constexpr (std::is_same<S, float>::value)
    if (W.packed != nullptr) return packed_linear_forward<S>(out, in, *W.packed, W.b.data());
  linear_forward<S>(out, in, W.w.matrix(), W.b.data());
}

// out (N, out) = in (N, in) · Wᵀ for a weight stored (out, in), as the LM head is (it is wte,
// (V, C)); with its packed copy when it has one.
template <typename S>
void linear_forward_transposed(MatrixRef<S> out, const ConstMatrixRef<S>& in, const TensorView<S>& weight,
                               const detail::PackedMatrix* packed) {
  if constexpr (std::is_same<S, float>::value)
    if (packed != nullptr) return packed_linear_forward<S>(out, in, *packed, nullptr);
  linear_forward<S>(out, in, weight.matrix().transpose(), nullptr);
}

// Backward of  out = in · W + b.  Accumulates (+=) into din, dweight and dbias (dbias may be
// null when the layer has no bias); with add_din = false, din is overwritten instead.
//   din (N, in)       += dout (N, out) · W^T
//   dweight (in, out) += in^T · dout
//   dbias (out)       += column sums of dout
template <typename S, typename W, typename DW>
void linear_backward(MatrixRef<S> din, const Eigen::MatrixBase<DW>& dweight_, S* dbias,
                     const ConstMatrixRef<S>& dout, const ConstMatrixRef<S>& in, const Eigen::MatrixBase<W>& weight,
                     bool add_din = true) {
  auto& dweight = const_cast<Eigen::MatrixBase<DW>&>(dweight_);  // Eigen's idiom for writable expressions
  detail::product(din, dout, weight.transpose(), /*accumulate*/ add_din);  // din += dout · W^T
  detail::product(dweight, in.transpose(), dout, /*accumulate*/ true);     // dW  += in^T · dout
  if (dbias != nullptr) RowVectorMap<S>(dbias, dout.cols()) += dout.colwise().sum();
}

// Backward of  out = in · W.w + W.b,  into dW (same shapes as W): din (+)= dout W.wᵀ,
// dW.w += inᵀ dout, dW.b += column sums of dout.
template <typename S>
void linear_backward(MatrixRef<S> din, Linear<S>& dW, const ConstMatrixRef<S>& dout, const ConstMatrixRef<S>& in,
                     const Linear<S>& W, bool add_din = true) {
  linear_backward<S>(din, dW.w.matrix(), dW.b.data(), dout, in, W.w.matrix(), add_din);
}

}  // namespace minigpt
