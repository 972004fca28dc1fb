// Shared by the benchmark programs: a clock, medians, the machine's limits (GEMM GFLOP/s,
// copy bandwidth) and running the PyTorch peer (tests/bench/torch_peer.py) in the same run.
#pragma once

#include <minigpt/detail/parallel.hpp>
#include <minigpt/tensor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Seconds per call of f: a warm-up call, then the median of reps.
template <typename F>
double time_median(int reps, F&& f) {
  f();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now();
    f();
    times.push_back(now() - t0);
  }
  return median(times);
}

// float32 n x n x n matrix product in Eigen (what minigpt's layers call), GFLOP/s.
inline double eigen_gemm_gflops(minigpt::Index n = 2048) {
  using M = minigpt::Matrix<float>;
  M a = M::Random(n, n), b = M::Random(n, n), c(n, n);
  const double s = time_median(3, [&] { c.noalias() = a * b; });
  return 2.0 * double(n) * double(n) * double(n) / s / 1e9;
}

// Bytes copied per second by all threads, each copying its share of a 1 GB buffer (four
// times this machine's last-level cache, so the copy runs from and to memory).
inline double copy_bandwidth_gbs() {
  const std::size_t n = std::size_t(1) << 30;
  std::vector<char> src(n, 1), dst(n, 0);
  const minigpt::Index parts = 64;
  const double s = time_median(5, [&] {
    minigpt::detail::parallel_for(parts, 1e9, [&](minigpt::Index p) {
      const std::size_t chunk = n / parts;
      std::memcpy(dst.data() + p * chunk, src.data() + p * chunk, chunk);
    });
  });
  return double(n) / s / 1e9;
}

// Bytes read per second by all threads summing a 1 GB buffer of floats: what decoding does
// with the weights.
inline double read_bandwidth_gbs() {
  const minigpt::Index n = minigpt::Index(1) << 28;  // floats
  std::vector<float> data(static_cast<std::size_t>(n), 1.0f);
  const minigpt::Index parts = 64, chunk = n / parts;
  std::vector<double> sums(parts);
  const double s = time_median(5, [&] {
    minigpt::detail::parallel_for(parts, 1e9, [&](minigpt::Index p) {
      sums[static_cast<std::size_t>(p)] =
          Eigen::Map<const Eigen::ArrayXf>(data.data() + p * chunk, chunk).sum();
    });
  });
  return double(n) * sizeof(float) / s / 1e9;
}

// Runs a peer's command line and returns the last JSON object it printed that starts with
// `opening` (null when the command, its interpreter or its package is missing, or it printed
// no such line: the benchmark then prints minigpt's figures alone).
inline nlohmann::json run_peer_json(const std::string& cmd, const std::string& opening) {
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return nullptr;
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  const auto start = out.rfind(opening);
  if (start == std::string::npos) return nullptr;
  try {
    return nlohmann::json::parse(out.substr(start));
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

// Runs the PyTorch peer with `threads` threads and returns its JSON line (null without
// python, torch or the script).
inline nlohmann::json run_torch_peer(const std::string& args, int threads) {
  const std::string script = std::string(MINIGPT_SOURCE_DIR) + "/tests/bench/torch_peer.py";
  const std::string t = std::to_string(threads);
  return run_peer_json("OMP_NUM_THREADS=" + t + " OPENBLAS_NUM_THREADS=" + t + " /usr/bin/python3 '" + script + "' " +
                           args + " --threads " + t,
                       "{\"peer\"");
}

}  // namespace bench
