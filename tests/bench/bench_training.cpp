// Training speed beside PyTorch in the same run: milliseconds per optimiser step (forward,
// loss, backward, clipping, AdamW) for
//   baby:  nanoGPT's shakespeare_char CPU config (4 layers, 4 heads, C 128, T 64, B 12, V 65);
//   124M:  the GPT-2 124M shape at B = 4, T = 64 (V 50,257),
// each on 1 and 2 threads, with PyTorch (tests/bench/torch_peer.py, nanoGPT's model) on the
// same shapes and thread counts, measured right after ours so both see the same machine. A
// shared machine is noisy: the whole comparison runs `--rounds` times (default 2), and each
// side's best median counts. Also: the matrix-product FLOP/s reached, as a share of the best
// GEMM FLOP/s measured on this machine (Eigen's or OpenBLAS's through PyTorch), and the 124M
// run's peak memory (getrusage).
// Usage: bench_training [--iters N] [--big-iters N] [--rounds N] [--no-peer] [--no-big]
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

// The better of two results (lower median), for best-of-rounds.
Result better(const Result& a, const Result& b) { return a.ms_median > 0 && a.ms_median <= b.ms_median ? a : b; }
nlohmann::json better(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_null()) return b;
  if (b.is_null()) return a;
  return a["ms_median"].get<double>() <= b["ms_median"].get<double>() ? a : b;
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 30, big_iters = 5, rounds = 2;
  bool peer = true, big = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--big-iters") && i + 1 < argc) big_iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--no-peer")) peer = false;
    else if (!std::strcmp(argv[i], "--no-big")) big = false;
    else {
      std::fprintf(stderr, "usage: bench_training [--iters N] [--big-iters N] [--rounds N] [--no-peer] [--no-big]\n");
      return 2;
    }
  }
  const GPTConfig baby = GPTConfig::make(4, 4, 128, 64, 65), gpt2 = GPTConfig::gpt2();
  std::printf("minigpt training benchmark: ms per optimiser step (forward, loss, backward, clip, AdamW),\n"
              "median of %d steps (124M: %d), best of %d rounds; PyTorch = nanoGPT's model in torch, same\n"
              "shapes and threads, measured right after minigpt in each round. ratio = PyTorch ms / minigpt ms.\n\n",
              iters, big_iters, rounds);

  // The machine's GEMM rate on 1 and 2 threads: minigpt's products (Eigen) and PyTorch's (OpenBLAS).
  double gemm[3] = {0, 0, 0};
  for (int t : {1, 2}) {
    set_threads(t);
    const double ours = product_gflops();
    const nlohmann::json torch = peer ? bench::run_torch_peer("gemm --n 1024", t) : nlohmann::json();
    gemm[t] = ours;
    std::printf("GEMM 1024^3, %d thread%s: minigpt (Eigen) %.1f GFLOP/s", t, t > 1 ? "s" : "", ours);
    if (!torch.is_null()) {
      std::printf(", PyTorch (OpenBLAS) %.1f GFLOP/s", torch["gflops_best"].get<double>());
      gemm[t] = std::max(gemm[t], torch["gflops_best"].get<double>());
    }
    std::printf("\n");
  }
  std::printf("(shares below are of the better of the two)\n\n");

  struct Case {
    const char* name;
    GPTConfig config;
    Index B, T;
    int iters;
    const char* peer_config;
  };
  std::vector<Case> cases = {{"baby", baby, 12, 64, iters, "baby"}};
  if (big) cases.push_back({"124M", gpt2, 4, 64, big_iters, "gpt2"});
  for (const Case& c : cases) {
    nlohmann::json best_peer;
    for (int t : {1, 2}) {
      set_threads(t);
      Result ours;
      nlohmann::json theirs;
      for (int r = 0; r < rounds; ++r) {
        ours = r == 0 ? time_training(c.config, c.B, c.T, c.iters) : better(ours, time_training(c.config, c.B, c.T, c.iters));
        if (peer)
          theirs = better(theirs, bench::run_torch_peer(std::string("train --config ") + c.peer_config + " --iters " +
                                                            std::to_string(c.iters), t));
      }
      row(c.name, t, ours, theirs, flops_per_step(c.config, c.B, c.T), gemm[t]);
      best_peer = better(best_peer, theirs);
    }
    if (!best_peer.is_null())
      std::printf("%s: PyTorch's best is %d thread%s at %.1f ms per step\n\n", c.name, best_peer["threads"].get<int>(),
                  best_peer["threads"].get<int>() > 1 ? "s" : "", best_peer["ms_median"].get<double>());
  }
  if (big) {
    rusage self{}, children{};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    std::printf("124M peak memory (max resident set): minigpt %.2f GB", double(self.ru_maxrss) / (1 << 20));
    if (peer) std::printf(", PyTorch %.2f GB", double(children.ru_maxrss) / (1 << 20));
    std::printf("\n");
  }
  return 0;
}
