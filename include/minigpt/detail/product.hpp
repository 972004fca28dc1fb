// minigpt/detail/product.hpp — big matrix products shared among the cores, the same on any number.
//
// product(out, a, b, accumulate) computes out = a · b (or out += a · b). The output is cut
// along its longer side into 2 to 8 pieces (multiples of 16 rows or columns); each piece is
// one single-threaded Eigen product, and the pieces are handed to the OpenMP threads as they
// become free. Why not Eigen's own multi-threaded product: its threads wait for each other
// inside the product by spinning, which collapses when another program shares the cores, and
// its split depends on the thread count. Here the pieces depend on the shapes alone, and a
// single-threaded Eigen product gives a piece of the output the same bits as the whole product
// does (its blocking of the inner dimension depends on k alone), so every number comes out the
// same on one thread or on many. On one thread (or inside another parallel loop) the product
// is not cut at all: each piece would pack the shared operand again.
//
// Shapes: a (m, k), b (k, n) -> out (m, n).
#pragma once

#include "../tensor.hpp"
#include "parallel.hpp"

#include <algorithm>

namespace minigpt {
namespace detail {

// How many pieces the longer side `length` of an (m, n) output with inner size k is cut into:
// one for small products, else 2 to 8 pieces of about 64 or more. Two pieces at least as soon
// as Eigen would start threads of its own (about 10^5 multiply-adds): the pieces then run
// inside a parallel region, where Eigen stays on its thread, so its blocking never depends on
// the thread count.
inline Index product_pieces(Index m, Index n, Index k, Index length) {
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < 65536.0 || length < 32) return 1;
  return std::max<Index>(2, std::min<Index>(8, length / 64));
}

template <typename Out, typename A, typename B>
void product(Out&& out, const A& a, const B& b, bool accumulate) {
  const Index m = a.rows(), n = b.cols(), k = a.cols();
  const bool by_rows = m >= n;
  const Index length = by_rows ? m : n;
  const Index pieces = product_pieces(m, n, k, length);
  const bool alone = in_parallel() || max_threads() == 1;
  if (pieces == 1 || alone) {  // one thread: the whole product at once (the same bits as in pieces)
    if (accumulate) out.noalias() += a * b;
    else out.noalias() = a * b;
    return;
  }
  const Index width = ((length + pieces - 1) / pieces + 15) / 16 * 16;
  parallel_tasks(pieces, [&](Index p) {
    const Index begin = std::min(p * width, length), size = std::min(width, length - begin);
    if (size <= 0) return;
    if (by_rows) {
      if (accumulate) out.middleRows(begin, size).noalias() += a.middleRows(begin, size) * b;
      else out.middleRows(begin, size).noalias() = a.middleRows(begin, size) * b;
    } else {
      if (accumulate) out.middleCols(begin, size).noalias() += a * b.middleCols(begin, size);
      else out.middleCols(begin, size).noalias() = a * b.middleCols(begin, size);
    }
  });
}

}  // namespace detail
}  // namespace minigpt
