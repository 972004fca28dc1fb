// Training speed beside PyTorch in the same run: milliseconds per optimiser step (forward,
// loss, backward, clipping, AdamW) for
//   baby:  nanoGPT's shakespeare_char CPU config (4 layers, 4 heads, C 128, T 64, B 12, V 65);
//   124M:  the GPT-2 124M shape at B = 4, T = 64 (V 50,257),
// each on 1 and 2 threads, with PyTorch (tests/bench/torch_peer.py, nanoGPT's model) on the
// same shapes and thread counts, measured right after ours so both see the same machine. Also:
// the matrix-product FLOP/s reached, as a share of this machine's measured GEMM FLOP/s, and the
// 124M run's peak memory (getrusage).
// Usage: bench_training [--iters N] [--big-iters N] [--no-peer] [--no-big]
#include "bench_common.hpp"

#include <minigpt/minigpt.hpp>
#include <minigpt/training.hpp>

#include <cstdio>
#include <cstring>

#include <sys/resource.h>

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace minigpt;

namespace {

void set_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

// Multiply-add FLOPs of one training step: the forward's matrix products (the four linear
// layers of each block, Q·Kᵀ and att·V over all T² pairs, the LM head), times 3 for forward
// plus backward (each product's backward is two products of the same size).
double flops_per_step(const GPTConfig& c, Index B, Index T) {
  const double N = double(B * T), C = double(c.n_embd), V = double(c.vocab_size), L = double(c.n_layer);
  const double forward = L * (24.0 * N * C * C + 4.0 * double(B) * double(T) * double(T) * C) + 2.0 * N * C * V;
  return 3.0 * forward;
}

struct Result {
  double ms_median = 0, ms_best = 0;
  Index shards = 0;
};

// ms per step of a Trainer on random tokens, after two warm-up steps.
Result time_training(const GPTConfig& c, Index B, Index T, int iters) {
  Rng rng(7);
  std::vector<TokenId> tokens(200000);
  for (auto& t : tokens) t = static_cast<TokenId>(rng.below(static_cast<std::uint64_t>(c.vocab_size)));
  TrainOptions o;
  o.batch_size = B;
  o.block_size = T;
  o.max_iters = iters + 2;
  Trainer<float> trainer(c, o, split_train_val(tokens));
  trainer.train_step();
  trainer.train_step();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const double t0 = bench::now();
    trainer.train_step();
    ms.push_back((bench::now() - t0) * 1e3);
  }
  return {bench::median(ms), *std::min_element(ms.begin(), ms.end()), trainer.shards()};
}

// GFLOP/s of a 1024³ float product cut as minigpt's layers cut theirs (detail/product.hpp).
double product_gflops(Index n = 1024) {
  using M = Matrix<float>;
  M a = M::Random(n, n), b = M::Random(n, n), c(n, n);
  std::vector<double> s;
  for (int i = 0; i < 6; ++i) {
    const double t0 = bench::now();
    detail::product(c, a, b, false);
    s.push_back(bench::now() - t0);
  }
  return 2.0 * double(n) * double(n) * double(n) / *std::min_element(s.begin() + 1, s.end()) / 1e9;
}

void row(const char* what, int threads, const Result& ours, const nlohmann::json& peer, double flops, double gemm) {
  const double gflops = flops / (ours.ms_median * 1e-3) / 1e9;
  std::printf("%-5s %d thread%s  minigpt %9.1f ms (best %9.1f, %lld shard%s)  %5.1f GFLOP/s = %3.0f%% of GEMM",
              what, threads, threads > 1 ? "s" : " ", ours.ms_median, ours.ms_best, (long long)ours.shards,
              ours.shards > 1 ? "s" : " ", gflops, 100.0 * gflops / gemm);
  if (!peer.is_null())
    std::printf("   PyTorch %9.1f ms (best %9.1f)  ratio %.2fx", peer["ms_median"].get<double>(),
                peer["ms_best"].get<double>(), peer["ms_median"].get<double>() / ours.ms_median);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 30, big_iters = 5;
  bool peer = true, big = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--big-iters") && i + 1 < argc) big_iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--no-peer")) peer = false;
    else if (!std::strcmp(argv[i], "--no-big")) big = false;
    else {
      std::fprintf(stderr, "usage: bench_training [--iters N] [--big-iters N] [--no-peer] [--no-big]\n");
      return 2;
    }
  }
  const GPTConfig baby = GPTConfig::make(4, 4, 128, 64, 65), gpt2 = GPTConfig::gpt2();
  std::printf("minigpt training benchmark: ms per optimiser step (forward, loss, backward, clip, AdamW),\n"
              "median of %d steps (124M: %d); PyTorch = nanoGPT's model in torch, same shapes and threads,\n"
              "measured right after minigpt. ratio = PyTorch ms / minigpt ms.\n\n",
              iters, big_iters);

  double gemm[3] = {0, 0, 0};
  nlohmann::json torch_gemm[3];
  for (int t : {1, 2}) {
    set_threads(t);
    gemm[t] = product_gflops();
    if (peer) torch_gemm[t] = bench::run_torch_peer("gemm --n 1024", t);
    std::printf("GEMM 1024^3, %d thread%s: minigpt (Eigen) %.1f GFLOP/s", t, t > 1 ? "s" : "", gemm[t]);
    if (!torch_gemm[t].is_null()) std::printf(", PyTorch (OpenBLAS) %.1f GFLOP/s", torch_gemm[t]["gflops_best"].get<double>());
    std::printf("\n");
  }
  std::printf("\n");

  // ---- baby GPT ----
  nlohmann::json best_peer;
  for (int t : {1, 2}) {
    set_threads(t);
    const Result ours = time_training(baby, 12, 64, iters);
    const nlohmann::json p = peer ? bench::run_torch_peer("train --config baby --iters " + std::to_string(iters), t)
                                  : nlohmann::json();
    row("baby", t, ours, p, flops_per_step(baby, 12, 64), gemm[t]);
    if (!p.is_null() && (best_peer.is_null() || p["ms_median"].get<double>() < best_peer["ms_median"].get<double>()))
      best_peer = p;
  }
  if (!best_peer.is_null())
    std::printf("baby: PyTorch's best is %d thread(s) at %.1f ms per step\n", best_peer["threads"].get<int>(),
                best_peer["ms_median"].get<double>());

  // ---- GPT-2 124M shape, B = 4, T = 64 ----
  if (big) {
    std::printf("\n");
    for (int t : {1, 2}) {
      set_threads(t);
      const Result ours = time_training(gpt2, 4, 64, big_iters);
      const nlohmann::json p =
          peer ? bench::run_torch_peer("train --config gpt2 --iters " + std::to_string(big_iters), t) : nlohmann::json();
      row("124M", t, ours, p, flops_per_step(gpt2, 4, 64), gemm[t]);
    }
    rusage self{}, children{};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    std::printf("124M peak memory (max resident set): minigpt %.2f GB", double(self.ru_maxrss) / (1 << 20));
    if (peer) std::printf(", PyTorch %.2f GB", double(children.ru_maxrss) / (1 << 20));
    std::printf("\n");
  }
  return 0;
}
