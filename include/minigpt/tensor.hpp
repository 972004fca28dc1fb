// minigpt/tensor.hpp — the shared vocabulary of shapes.
//
// Chapter idea: a token becomes a vector (벡터) of numbers, and a whole text becomes a table of
// such vectors, one row per token. Every other header speaks in the shapes defined here.
//
// The letters, defined once for the whole library and used in a shape comment on every
// function:
//
//   B    batch size: how many sequences are processed side by side
//   T    sequence length: tokens per sequence (at most the block size, n_positions)
//   C    channels: n_embd, the width of each token's embedding vector (768 in GPT-2 small,
//        12,288 in GPT-3)
//   V    vocabulary size: how many distinct token ids there are (50,257 in GPT-2)
//   H    number of attention heads (12 in GPT-2 small, 96 in GPT-3)
//   hs   head size: C / H (64 in GPT-2 small, 128 in GPT-3)
//   Tk   keys a query can look at: T in training, past + T with a KV cache
//
// Storage is row-major throughout, like PyTorch: a (B, T, C) activation is B*T rows of C
// numbers, row b*T + t holding token t of sequence b. So a (B, T, C) buffer is also a
// (B*T, C) matrix, and matrix products over all tokens are one Eigen product.
//
// Shapes in:  none (types only).   Shapes out: none.
#pragma once

#include "error.hpp"
#include "token_id.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace minigpt {

// Index and TokenId come from token_id.hpp (which needs no Eigen); Index is Eigen's own.
static_assert(std::is_same<Index, Eigen::Index>::value, "minigpt::Index must be Eigen::Index");

// A dense row-major matrix with scalar S (float for speed, double for gradient checks).
template <typename S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using RowVector = Eigen::Matrix<S, 1, Eigen::Dynamic>;

// Views of memory someone else owns, as matrices. `Strided` views read every row of a
// wider buffer: e.g. head h's queries inside a (T, 3C) block of Q, K and V.
template <typename S>
using MatrixMap = Eigen::Map<Matrix<S>>;
template <typename S>
using ConstMatrixMap = Eigen::Map<const Matrix<S>>;
template <typename S>
using StridedMap = Eigen::Map<Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename S>
using ConstStridedMap = Eigen::Map<const Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename S>
using RowVectorMap = Eigen::Map<RowVector<S>>;
template <typename S>
using ConstRowVectorMap = Eigen::Map<const RowVector<S>>;

// Function arguments: any matrix-shaped storage with contiguous rows (a Matrix, a Map, or a
// block of columns inside a wider matrix) binds to these without a copy.
template <typename S>
using MatrixRef = Eigen::Ref<Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename S>
using ConstMatrixRef = Eigen::Ref<const Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;

// A (rows, cols) view of a row-major buffer at `data`.
template <typename S>
MatrixMap<S> as_matrix(S* data, Index rows, Index cols) {
  return MatrixMap<S>(data, rows, cols);
}
template <typename S>
ConstMatrixMap<S> as_matrix(const S* data, Index rows, Index cols) {
  return ConstMatrixMap<S>(data, rows, cols);
}

// B sequences of T tokens side by side: every (B*T, ...) activation has row b*T + t for
// token t of sequence b.
struct BatchShape {
  Index B = 0, T = 0;
  Index tokens() const { return B * T; }
};

// One tensor inside a buffer someone else owns (a parameter buffer: parameters.hpp), with
// the shape the parameter table gave it; an (n) vector is (1, n). A view is a pointer and two
// sizes: cheap to copy, owning nothing. Constness is deep: through a const view (or a const
// reference to one) only read-only maps come out, so a layer that takes its weights as
// `const Linear<S>& W` cannot write them, and writes its gradients through a `Linear<S>& dW`
// of the same type.
//   Example: TensorView<float> w(buffer, 768, 2304);  w.matrix()(0, 1) ...;  w.vector()(5)
template <typename S>
class TensorView {
 public:
  TensorView() = default;
  TensorView(S* data, Index rows, Index cols) : data_(data), rows_(rows), cols_(cols) {}

  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  Index size() const { return rows_ * cols_; }
  S* data() { return data_; }
  const S* data() const { return data_; }
  MatrixMap<S> matrix() { return MatrixMap<S>(data_, rows_, cols_); }
  ConstMatrixMap<S> matrix() const { return ConstMatrixMap<S>(data_, rows_, cols_); }
  RowVectorMap<S> vector() { return RowVectorMap<S>(data_, size()); }
  ConstRowVectorMap<S> vector() const { return ConstRowVectorMap<S>(data_, size()); }

 private:
  S* data_ = nullptr;
  Index rows_ = 0, cols_ = 0;
};

// An owning, row-major, n-dimensional array: the logits (B, T, V), attention maps (B, H, T, Tk)
// and other results handed back to callers. Deliberately small: a shape and a vector.
template <typename S>
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<Index> shape) : shape_(std::move(shape)) {
    data_.assign(static_cast<std::size_t>(count(shape_)), S(0));
  }

  const std::vector<Index>& shape() const { return shape_; }
  Index dim(std::size_t i) const { return shape_.at(i); }
  Index rank() const { return static_cast<Index>(shape_.size()); }
  Index size() const { return static_cast<Index>(data_.size()); }
  S* data() { return data_.data(); }
  const S* data() const { return data_.data(); }

  // Element access by full index, e.g. logits(b, t, v).
  template <typename... I>
  S& operator()(I... i) { return data_[static_cast<std::size_t>(offset({static_cast<Index>(i)...}))]; }
  template <typename... I>
  const S& operator()(I... i) const {
    return data_[static_cast<std::size_t>(offset({static_cast<Index>(i)...}))];
  }

  // All leading dimensions folded into rows: (B, T, V) -> (B*T, V).
  MatrixMap<S> matrix() { return MatrixMap<S>(data(), rows(), cols()); }
  ConstMatrixMap<S> matrix() const { return ConstMatrixMap<S>(data(), rows(), cols()); }

  // The product of the dimensions; a negative dimension, or a product past 64 bits, is an
  // ArgumentError rather than a wrapped-around size.
  static Index count(const std::vector<Index>& shape) {
    Index n = 1;
    for (Index d : shape)
      if (d < 0 || __builtin_mul_overflow(n, d, &n)) {
        std::string s;
        for (Index x : shape) s += (s.empty() ? "" : ", ") + std::to_string(x);
        throw ArgumentError("tensor shape [" + s + "] has a negative dimension or more than 2^63 elements");
      }
    return n;
  }

 private:
  Index cols() const { return shape_.empty() ? 1 : shape_.back(); }
  Index rows() const { return cols() == 0 ? 0 : size() / cols(); }
  Index offset(std::initializer_list<Index> idx) const {
    Index off = 0;
    std::size_t k = 0;
    for (Index i : idx) off = off * shape_[k++] + i;
    return off;
  }

  std::vector<Index> shape_;
  // Aligned to Eigen's widest packet, so that reductions over the data (e.g. the loss over
  // the logits) round the same way in every allocation: see parameters.hpp.
  std::vector<S, Eigen::aligned_allocator<S>> data_;
};

}  // namespace minigpt
