// bench_generate — generating text with GPT-2 small's shape in f32, bf16 and Q8_0 weights,
// beside llama.cpp on the same GGUF files in the same run, and batched decoding against B.
//
//   bench_generate [--threads 1,2] [--new 64] [--batches 1,2,4,8] [--dir DIR] [--no-peer]
//
// The model: GPT-2 124M's shape (12 layers, 12 heads, C = 768, 1,024 positions, 50,257
// tokens) with random weights (GPT-2's init, seed 1): the speed of a forward pass does not
// depend on the values, and OpenAI's weights are not needed. It is written once as two GGUF
// files, F32 and Q8_0 (DIR/bench-124m-f32.gguf, -q8_0.gguf; kept for the next run), and each
// contestant loads the file:
//   minigpt f32     the F32 file               minigpt bf16   the F32 file, --weights bf16
//   minigpt q8_0    the Q8_0 file              llama.cpp      each file (node-llama-cpp 3.21.1,
//                                                             tests/gguf/llama_peer.mjs)
// Figures, for each thread count:
//   decode   tokens/s after the first new token (a prompt of 8 tokens, --new tokens greedily),
//            best of 3, as llama_peer.mjs measures it; beside it the bound set by reading every
//            weight once per token at the machine's read bandwidth;
//   prefill  tokens/s running 256 tokens at once into an empty cache, best of 3;
//   greedy   where minigpt's greedy tokens first differ from llama.cpp's on the same file;
//   batched  Q8_0 decode of B prompts at once (generate() with B prompts), tokens/s of all B.
#include "bench_common.hpp"

#include <minigpt/minigpt.hpp>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace minigpt;

namespace {

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) v.push_back(std::atoi(item.c_str()));
  return v;
}

std::string join(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// llama.cpp on `file`: its greedy tokens, decode and prefill tokens/s (null without node or
// the package: run `npm install` in tests/gguf first).
nlohmann::json run_llama(const std::string& file, const std::vector<TokenId>& prompt, int n, int threads) {
  const std::string script = std::string(MINIGPT_SOURCE_DIR) + "/tests/gguf/llama_peer.mjs";
  return bench::run_peer_json("node '" + script + "' '" + file + "' --prompt-ids '" + join(prompt) + "' --new " +
                                  std::to_string(n) + " --threads " + std::to_string(threads) + " --bench",
                              "{\"model\"");
}

struct Decode {
  double tokens_per_s = 0;
  std::vector<TokenId> tokens;
};

// B prompts continued greedily by n tokens each: tokens/s of all B after the first step.
Decode decode(GPT<float>& model, const std::vector<std::vector<TokenId>>& prompts, Index n) {
  Decode best;
  for (int r = 0; r < 3; ++r) {
    GenerateOptions opt;
    opt.max_new_tokens = n;
    opt.sampling.temperature = 0;
    const Index B = static_cast<Index>(prompts.size());
    Index heard = 0;
    double first = 0;
    const auto out = generate(model, prompts, opt, 1, [&](Index, TokenId) {
      if (++heard == B) first = bench::now();  // the first step's tokens (after the prefill)
    });
    const double tps = double(B * (n - 1)) / (bench::now() - first);
    if (tps > best.tokens_per_s) best = {tps, out[0]};
  }
  return best;
}

double prefill(GPT<float>& model, const std::vector<TokenId>& ids) {
  KVCache<float> cache(model.config(), 1, static_cast<Index>(ids.size()));
  ForwardOptions<float> opt;
  opt.cache = &cache;
  opt.last_position_only = true;
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    cache.clear();
    const double t0 = bench::now();
    model.forward(ids, 1, static_cast<Index>(ids.size()), opt);
    best = std::max(best, double(ids.size()) / (bench::now() - t0));
  }
  return best;
}

// Where b first differs from a (its length when it never does).
std::size_t first_difference(const std::vector<TokenId>& a, const std::vector<TokenId>& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threads = {1, 2}, batches = {1, 2, 4, 8};
  int n_new = 64;
  std::string dir = ".";
  bool peer = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = parse_list(argv[++i]);
    else if (a == "--new" && i + 1 < argc) n_new = std::atoi(argv[++i]);
    else if (a == "--batches" && i + 1 < argc) batches = parse_list(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--no-peer") peer = false;
    else {
      std::fprintf(stderr, "usage: bench_generate [--threads 1,2] [--new 64] [--batches 1,2,4,8] [--dir DIR] [--no-peer]\n");
      return 2;
    }
  }
  if (n_new < 2) n_new = 2;

  // ---- the two GGUF files (random GPT-2 124M-shaped weights) ----
  const std::string f32_file = dir + "/bench-124m-f32.gguf", q8_file = dir + "/bench-124m-q8_0.gguf";
  if (!detail::file_exists(f32_file) || !detail::file_exists(q8_file)) {
    std::printf("writing %s and %s (random weights, GPT-2 124M's shape)...\n", f32_file.c_str(), q8_file.c_str());
    GPT<float> model(GPTConfig::gpt2());
    Rng rng(1);
    model.init_weights(rng);
    save_gguf(model, nullptr, f32_file, GGMLType::F32);
    save_gguf(model, nullptr, q8_file, GGMLType::Q8_0);
  }
  std::printf("kernels on this CPU: best = %s\n", detail::simd_kernel_name(detail::best_simd_kernel()));
  const double bandwidth = bench::read_bandwidth_gbs();
  std::printf("read bandwidth (all threads): %.1f GB/s\n", bandwidth);

  struct Contestant {
    const char* name;
    const std::string* file;
    WeightFormat format;
  };
  const Contestant contestants[] = {{"f32", &f32_file, WeightFormat::f32},
                                    {"bf16", &f32_file, WeightFormat::bf16},
                                    {"q8_0", &q8_file, WeightFormat::q8_0}};
  const std::vector<TokenId> prompt = {464, 2068, 7586, 21831, 18045, 625, 262, 16931};  // 8 tokens
  std::vector<TokenId> long_prompt(256);
  for (std::size_t i = 0; i < long_prompt.size(); ++i) long_prompt[i] = static_cast<TokenId>((i * 7919 + 13) % 50000);

  for (int t : threads) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
    std::printf("\n---- %d thread%s, decode %d tokens after a prompt of %zu; prefill 256 ----\n", t, t > 1 ? "s" : "",
                n_new, prompt.size());
    std::printf("%-16s %12s %12s %14s %16s\n", "", "decode tok/s", "bound tok/s", "prefill tok/s", "greedy vs llama");
    std::vector<TokenId> f32_tokens, q8_tokens;
    for (const Contestant& c : contestants) {
      ModelFile m = load_model_file(*c.file, c.format);
      // What a decode step must read: every weight matrix once (12 C² per layer, the V x C head).
      const GPTConfig& g = m.model.config();
      const double step_bytes =
          double(g.n_layer * 12 * g.n_embd * g.n_embd + g.vocab_size * g.n_embd) * weight_format_bytes(c.format);
      const Decode d = decode(m.model, {prompt}, n_new);
      const double pf = prefill(m.model, long_prompt);
      if (c.format == WeightFormat::q8_0) q8_tokens = d.tokens;
      if (c.format == WeightFormat::f32) f32_tokens = d.tokens;
      std::printf("minigpt %-8s %12.1f %12.1f %14.1f\n", c.name, d.tokens_per_s, bandwidth * 1e9 / step_bytes, pf);
      if (c.format == WeightFormat::q8_0 && !batches.empty()) {
        std::vector<std::vector<TokenId>> ps;
        double one = 0;
        for (int B : batches) {
          while (static_cast<int>(ps.size()) < B) {
            std::vector<TokenId> p = prompt;
            p.resize(prompt.size() - ps.size() % 4);  // prompts of different lengths
            p[0] = static_cast<TokenId>(100 + ps.size());
            ps.push_back(p);
          }
          const Decode bd = decode(m.model, std::vector<std::vector<TokenId>>(ps.begin(), ps.begin() + B), n_new);
          if (B == 1) one = bd.tokens_per_s;
          std::printf("  q8_0 batched B = %-3d %10.1f tok/s (all B)%s\n", B, bd.tokens_per_s,
                      one > 0 ? ("  " + std::to_string(bd.tokens_per_s / one).substr(0, 4) + "x B = 1").c_str() : "");
        }
      }
    }
    if (!peer) continue;
    for (const std::string* file : {&f32_file, &q8_file}) {
      const nlohmann::json r = run_llama(*file, prompt, n_new, t);
      const char* name = file == &f32_file ? "F32" : "Q8_0";
      if (r.is_null()) {
        std::printf("llama.cpp %-6s (not run: node or tests/gguf/node_modules missing)\n", name);
        continue;
      }
      const auto tokens = r["tokens"].get<std::vector<TokenId>>();
      const std::size_t at = first_difference(tokens, file == &q8_file ? q8_tokens : f32_tokens);
      const std::string greedy =
          at == tokens.size() ? "all " + std::to_string(at) + " equal" : "differ at " + std::to_string(at);
      std::printf("llama.cpp %-6s %12.1f %12s %14.1f %16s\n", name, r.value("decode_tokens_per_s", 0.0), "",
                  r.value("prefill_256_tokens_per_s", 0.0), greedy.c_str());
    }
  }
  return 0;
}
