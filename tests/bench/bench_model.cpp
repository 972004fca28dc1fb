// Inference speed for the GPT-2 124M shape (random weights), beside PyTorch in the same run
// and beside this machine's limits:
//   prefill: one forward of T = 256 tokens, all logits (and the last position's only);
//   decode:  new tokens per second with the KV cache, after a 16-token prompt;
//   limits:  Eigen GEMM GFLOP/s, copy bandwidth, and the decode bound
//            bandwidth / bytes of weights read per token.
// Usage: bench_model [--reps N] [--new-tokens N] [--no-peer]   (threads: OMP_NUM_THREADS)
#include "bench_common.hpp"

#include <minigpt/minigpt.hpp>

#include <cstdio>
#include <cstring>

using namespace minigpt;

int main(int argc, char** argv) {
  int reps = 5;
  Index new_tokens = 64;
  bool peer = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--new-tokens") && i + 1 < argc) new_tokens = std::atol(argv[++i]);
    else if (!std::strcmp(argv[i], "--no-peer")) peer = false;
    else {
      std::fprintf(stderr, "usage: bench_model [--reps N] [--new-tokens N] [--no-peer]\n");
      return 2;
    }
  }
  const int threads = detail::max_threads();
  const GPTConfig config = GPTConfig::gpt2();
  std::printf("minigpt inference benchmark: GPT-2 124M shape, random weights, %d thread(s)\n\n", threads);

  GPT<float> model(config);
  Rng rng(1);
  model.init_weights(rng);
  std::vector<TokenId> ids(1024);
  for (auto& id : ids) id = static_cast<TokenId>(rng.below(50257));

  // ---- prefill ----
  const Index T = 256;
  std::vector<TokenId> prompt(ids.begin(), ids.begin() + T);
  const double prefill_s = bench::time_median(reps, [&] { model.forward(prompt, 1, T); });
  ForwardOptions<float> last;
  last.last_position_only = true;
  const double prefill_last_s = bench::time_median(reps, [&] { model.forward(prompt, 1, T, last); });

  // ---- decode with the KV cache ----
  const Index P = 16;
  auto decode_once = [&] {
    KVCache<float> cache(config, 1);
    ForwardOptions<float> opt;
    opt.cache = &cache;
    opt.last_position_only = true;
    std::vector<TokenId> start(ids.begin(), ids.begin() + P);
    const Tensor<float>* logits = &model.forward(start, 1, P, opt);
    const double t0 = bench::now();
    for (Index i = 0; i < new_tokens; ++i) {
      std::vector<TokenId> next = {argmax(logits->data(), config.vocab_size)};
      logits = &model.forward(next, 1, 1, opt);
    }
    return double(new_tokens) / (bench::now() - t0);
  };
  decode_once();
  std::vector<double> rates;
  for (int r = 0; r < std::max(1, reps / 2); ++r) rates.push_back(decode_once());
  const double decode_tps = bench::median(rates);

  // ---- the machine ----
  const double gflops = bench::eigen_gemm_gflops();
  const double copy_bw = bench::copy_bandwidth_gbs(), read_bw = bench::read_bandwidth_gbs();
  const double weight_bytes = double(model.parameter_count()) * sizeof(float);  // wte read once (tied head)
  const double decode_bound = copy_bw * 1e9 / weight_bytes, read_bound = read_bw * 1e9 / weight_bytes;
  const double prefill_flop = 2.0 * double(model.parameter_count() - config.n_positions * config.n_embd) * T +
                              2.0 * config.n_layer * double(T) * T * config.n_embd;  // matmuls + attention

  std::printf("machine: Eigen GEMM 2048^3 %.0f GFLOP/s; copy bandwidth %.1f GB/s, read bandwidth %.1f GB/s\n",
              gflops, copy_bw, read_bw);
  std::printf("decode bound = bandwidth / %.0f MB of weights per token: %.1f tokens/s (copy), %.1f (read)\n\n",
              weight_bytes / 1e6, decode_bound, read_bound);
  std::printf("minigpt prefill T=%ld:   %7.1f ms  %6.0f tokens/s  (%.0f GFLOP/s, %.0f%% of GEMM)\n", long(T),
              prefill_s * 1e3, T / prefill_s, prefill_flop / prefill_s / 1e9, 100 * prefill_flop / prefill_s / 1e9 / gflops);
  std::printf("minigpt prefill, last position's logits only: %7.1f ms  %6.0f tokens/s\n", prefill_last_s * 1e3,
              T / prefill_last_s);
  std::printf("minigpt decode (KV cache):  %6.1f tokens/s  (%.2fx the copy bound, %.2fx the read bound)\n",
              decode_tps, decode_tps / decode_bound, decode_tps / read_bound);

  if (!peer) return 0;
  const std::string shape = "--n-layer 12 --n-head 12 --n-embd 768 --vocab 50257 --block 1024";
  const auto tp = bench::run_torch_peer("prefill " + shape + " --T 256 --reps " + std::to_string(reps), threads);
  const auto td = bench::run_torch_peer("decode " + shape + " --prompt-len 16 --new-tokens " +
                                            std::to_string(new_tokens) + " --reps 2", threads);
  const auto tg = bench::run_torch_peer("gemm --n 2048", threads);
  if (tp.is_null() || td.is_null()) {
    std::printf("\n(PyTorch peer unavailable: /usr/bin/python3 with torch is needed for the comparison)\n");
    return 0;
  }
  const double torch_prefill = tp["tok_s_median"].get<double>();
  const double torch_kv = td.value("kv_tok_s_median", 0.0);
  const double torch_cacheless = td["cacheless_tok_s_median"].get<double>();
  std::printf("\nbeside PyTorch %s (same shapes, %d thread(s), same run; OpenBLAS kernels %s):\n",
              tp.value("torch", "?").c_str(), threads, tp.value("openblas_core", "?").c_str());
  if (!tg.is_null()) std::printf("  torch GEMM 2048^3: %.0f GFLOP/s\n", tg["gflops_median"].get<double>());
  std::printf("  %-34s %10s %10s %8s\n", "", "minigpt", "PyTorch", "ratio");
  std::printf("  %-34s %10.0f %10.0f %7.2fx\n", "prefill T=256, tokens/s", T / prefill_s, torch_prefill,
              (T / prefill_s) / torch_prefill);
  std::printf("  %-34s %10.1f %10.1f %7.2fx\n", "decode with KV cache, tokens/s", decode_tps, torch_kv,
              decode_tps / torch_kv);
  std::printf("  %-34s %10.1f %10.1f %7.2fx\n", "decode vs nanoGPT's cacheless loop", decode_tps, torch_cacheless,
              decode_tps / torch_cacheless);
  return 0;
}
