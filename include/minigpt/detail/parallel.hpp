// minigpt/detail/parallel.hpp — one place where loops are spread over the cores.
//
// parallel_for(n, cost, body) runs body(i) for i in [0, n) on all OpenMP threads when the
// whole job is big enough to pay for waking them (n * cost >= about 2^15 multiply-adds), and
// in order on this thread otherwise (and always, when minigpt is built without OpenMP).
// Bodies must not throw: every check happens before the loop.
//
// parallel_tasks(n, body) runs body(i) for i in [0, n), each on whichever thread is free
// (dynamic scheduling): for a few big tasks of uneven length, such as the pieces of a matrix
// product or the shards of a batch.
#pragma once

#include "../tensor.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace minigpt {
namespace detail {

template <typename F>
void parallel_for(Index n, double cost_per_item, F&& body) {
#ifdef _OPENMP
  const bool worth_it = n > 1 && static_cast<double>(n) * cost_per_item >= 32768.0 && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (worth_it)
  for (Index i = 0; i < n; ++i) body(i);
#else
  (void)cost_per_item;
  for (Index i = 0; i < n; ++i) body(i);
#endif
}

template <typename F>
void parallel_tasks(Index n, F&& body) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (n > 1 && !omp_in_parallel())
  for (Index i = 0; i < n; ++i) body(i);
#else
  for (Index i = 0; i < n; ++i) body(i);
#endif
}

// True inside a parallel region (where a nested loop runs on this thread alone).
inline bool in_parallel() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Sets how many threads later parallel loops use (no effect without OpenMP).
inline void set_max_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

}  // namespace detail
}  // namespace minigpt
