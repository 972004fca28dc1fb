// minigpt/embedding.hpp — token embedding plus position embedding.
//
// Chapter idea: 임베딩 (embedding). Each token id picks its row of a learned table, wte
// (V, C): a vector of C numbers that training fills with meaning. Attention by itself does not
// know word order, so a second learned table, wpe (n_positions, C), adds a vector for each
// position 0, 1, 2, ... The sum is what the first decoder block reads.
//
//     x[b, t] = wte[ids[b, t]] + wpe[pos0 + t]
//
// Shapes: ids (B, T) -> x (B*T, C). pos0 is the position of the first token: 0 in training,
// the number of tokens already in the KV cache when generating.
//
// Example: C = 2, wte = [[0 1], [2 3], [4 5]], wpe = [[10 10], [20 20]], ids = [2 0]
//     x = [[14 15], [20 21]]
#pragma once

#include "detail/parallel.hpp"
#include "tensor.hpp"

#include <vector>

namespace minigpt {

// x (B*T, C) = wte (V, C)[ids (B, T)] + wpe (n_positions, C)[pos0[b] + t]: sequence b's
// tokens start at position pos0[b] (with a KV cache, each sequence's own length).
// Ids and positions are checked by the caller (GPT::forward) before this runs.
template <typename S>
void embedding_forward(MatrixRef<S> x, const TokenId* ids, const BatchShape& shape, const ConstMatrixRef<S>& wte,
                       const ConstMatrixRef<S>& wpe, const Index* pos0) {
  const Index T = shape.T;
  detail::parallel_for(shape.tokens(), static_cast<double>(x.cols()), [&](Index n) {
    const Index b = n / T, t = n % T;
    x.row(n) = wte.row(ids[n]) + wpe.row(pos0[b] + t);
  });
}

// The same with every sequence starting at position pos0.
template <typename S>
void embedding_forward(MatrixRef<S> x, const TokenId* ids, const BatchShape& shape, const ConstMatrixRef<S>& wte,
                       const ConstMatrixRef<S>& wpe, Index pos0) {
  const std::vector<Index> starts(static_cast<std::size_t>(shape.B), pos0);
  embedding_forward<S>(x, ids, shape, wte, wpe, starts.data());
}

// Backward of  x[b, t] = wte[ids[b, t]] + wpe[pos0 + t]: a scatter-add.
//   dwte[ids[b, t]] += dx[b, t]     (a token seen twice gets both gradients)
//   dwpe[pos0 + t]  += dx[b, t]
// In order on one thread: two tokens with the same id write the same row.
template <typename S>
void embedding_backward(MatrixRef<S> dwte, MatrixRef<S> dwpe, const ConstMatrixRef<S>& dx, const TokenId* ids,
                        const BatchShape& shape, Index pos0) {
  for (Index n = 0; n < shape.tokens(); ++n) {
    dwte.row(ids[n]) += dx.row(n);
    dwpe.row(pos0 + n % shape.T) += dx.row(n);
  }
}

}  // namespace minigpt
