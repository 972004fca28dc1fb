// bench_quant — the quantized products of detail/quant.hpp on GPT-2 small's matrices, beside
// the f32 product minigpt runs today (Eigen) and the machine's read bandwidth.
//
//   bench_quant [threads...]        (default: 1 2)
//
// For each weight matrix of one GPT-2 block (c_attn 2304 x 768, c_proj 768 x 768, c_fc 3072 x
// 768, mlp c_proj 768 x 3072) and the head (50257 x 768), and for N = 1 (decoding one token)
// and N = 256 (a prefill), it prints for each kernel the time, GFLOP/s (2 · N · out · in) and
// the weight bytes read per second (GB/s: how close a decode step is to the memory bound).
#include "bench_common.hpp"

#include <minigpt/detail/quant.hpp>
#include <minigpt/random.hpp>

#include <cstdio>
#include <cstdlib>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace minigpt;
using namespace minigpt::detail;

int main(int argc, char** argv) {
  std::vector<int> threads;
  for (int i = 1; i < argc; ++i) threads.push_back(std::atoi(argv[i]));
  if (threads.empty()) threads = {1, 2};
  struct Shape {
    const char* name;
    Index out, in;
  };
  const Shape shapes[] = {{"attn.c_attn", 2304, 768}, {"attn.c_proj", 768, 768}, {"mlp.c_fc", 3072, 768},
                          {"mlp.c_proj", 768, 3072},  {"lm_head", 50257, 768}};
  std::printf("kernels on this CPU: best = %s\n", simd_kernel_name(best_simd_kernel()));
  std::printf("read bandwidth (all threads): %.1f GB/s\n\n", bench::read_bandwidth_gbs());
  Rng rng(1);
  for (int t : threads) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
    std::printf("---- %d thread%s ----\n", t, t > 1 ? "s" : "");
    std::printf("%-12s %4s  %-12s %10s %9s %9s\n", "matrix", "N", "kernel", "ms", "GFLOP/s", "GB/s");
    for (const Shape& s : shapes) {
      std::vector<float> W(static_cast<std::size_t>(s.out * s.in));
      for (auto& w : W) w = static_cast<float>(rng.normal() * 0.02);
      const Q8_0Matrix Wq = quantize_matrix_q8_0(W.data(), s.out, s.in);
      const BF16Matrix Wb = to_bf16_matrix(W.data(), s.out, s.in);
      const MatrixMap<float> Wf(W.data(), s.out, s.in);
      for (Index N : {Index(1), Index(256)}) {
        std::vector<float> x(static_cast<std::size_t>(N * s.in)), y(static_cast<std::size_t>(N * s.out));
        for (auto& v : x) v = static_cast<float>(rng.normal());
        const double flops = 2.0 * double(N) * double(s.out) * double(s.in);
        const int reps = N == 1 ? 50 : 3;
        auto report = [&](const char* kernel, double sec, double weight_bytes) {
          std::printf("%-12s %4ld  %-12s %10.3f %9.1f %9.1f\n", s.name, static_cast<long>(N), kernel, sec * 1e3,
                      flops / sec / 1e9, weight_bytes / sec / 1e9);
        };
        {
          const ConstMatrixMap<float> X(x.data(), N, s.in);
          MatrixMap<float> Y(y.data(), N, s.out);
          report("f32 eigen", bench::time_median(reps, [&] { Y.noalias() = X * Wf.transpose(); }),
                 double(s.out * s.in) * 4);
        }
        for (SimdKernel k : {SimdKernel::scalar, SimdKernel::avx2, SimdKernel::avx512_vnni}) {
          if (!simd_kernel_supported(k) || (k == SimdKernel::scalar && N > 1)) continue;
          std::string name = std::string("q8_0 ") + simd_kernel_name(k);
          report(name.c_str(), bench::time_median(reps, [&] { matmul_q8_0(y.data(), x.data(), N, Wq, nullptr, k); }),
                 double(Wq.blocks.size()) * 34);
          name = std::string("bf16 ") + simd_kernel_name(k);
          report(name.c_str(), bench::time_median(reps, [&] { matmul_bf16(y.data(), x.data(), N, Wb, nullptr, k); }),
                 double(s.out * s.in) * 2);
        }
      }
    }
    std::printf("\n");
  }
  return 0;
}
