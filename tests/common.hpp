// Helpers shared by the test files: paths to the committed data, and comparisons.
#pragma once

#include <minigpt/bpe_tokenizer.hpp>
#include <minigpt/detail/io.hpp>
#include <minigpt/random.hpp>
#include <minigpt/safetensors.hpp>
#include <minigpt/tensor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace test {

inline std::string data(const std::string& rel) { return std::string(MINIGPT_TEST_DATA) + "/" + rel; }

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// max |a - b| / max |b|: the error relative to the reference's scale.
template <typename A, typename B>
double relative_error(const A* a, const B* b, std::size_t n) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return den == 0 ? num : num / den;
}

// The derivative of loss() with respect to the scalar x, by the five-point central stencil
//   f'(x) ≈ (f(x − 2h) − 8 f(x − h) + 8 f(x + h) − f(x + 2h)) / 12h.
// Its truncation error is O(h⁴) and its rounding error about ε |f| / h: with h = 1e-4 in
// double both sit near 1e-12 |f|, far below the 1e-6 the gradient tests ask for, on any
// CPU. (The two-point difference (f(x + h) − f(x − h)) / 2h needs a smaller h to keep its
// O(h²) error down, and its rounding error then comes within sight of 1e-6.)
inline double central_difference(double& x, const std::function<double()>& loss, double h = 1e-4) {
  const double saved = x;
  auto at = [&](double offset) {
    x = saved + offset;
    return loss();
  };
  const double d = (at(-2 * h) - 8 * at(-h) + 8 * at(h) - at(2 * h)) / (12 * h);
  x = saved;
  return d;
}

// How far an analytic derivative a is from a numeric one n: relative to their size, and
// absolute below 1e-3 (where a relative error means nothing).
inline double gradient_disagreement(double a, double n) {
  return std::abs(a - n) / std::max(1e-3, std::abs(a) + std::abs(n));
}

// A reference tensor from a committed golden file, in double.
inline std::vector<double> golden(const std::string& file, const std::string& name) {
  minigpt::SafetensorsReader r(data(file));
  return r.read<double>(name);
}

// A scratch folder under the build tree, emptied first.
inline std::string scratch(const std::string& name) {
  const std::string dir = "scratch-" + name;
  std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("cannot make " + dir);
  return dir;
}

// GPT-2's tokenizer from the committed OpenAI files, loaded once.
inline const minigpt::BPETokenizer& gpt2_tokenizer() {
  static const minigpt::BPETokenizer t =
      minigpt::BPETokenizer::from_files(data("gpt2/encoder.json"), data("gpt2/vocab.bpe"));
  return t;
}

// The batch of the committed GPT-2 reference (gpt2-tiny/reference.json): B rows of T input
// ids, and their targets, as the file states B ("batch") and T ("time") and checked against
// its rows.
struct ReferenceBatch {
  std::vector<minigpt::TokenId> ids, targets;
  minigpt::Index B = 0, T = 0;
};

inline ReferenceBatch reference_batch() {
  const std::string path = data("gpt2-tiny/reference.json");
  const auto j = read_json(path);
  ReferenceBatch b;
  b.B = j.at("batch").get<minigpt::Index>();
  b.T = j.at("time").get<minigpt::Index>();
  for (const char* key : {"input_ids", "targets"}) {
    const auto& rows = j.at(key);
    if (static_cast<minigpt::Index>(rows.size()) != b.B) throw std::runtime_error(path + ": " + key + " has not batch rows");
    for (const auto& row : rows) {
      if (static_cast<minigpt::Index>(row.size()) != b.T) throw std::runtime_error(path + ": a row of " + key + " is not time long");
      for (int id : row) (key[0] == 'i' ? b.ids : b.targets).push_back(id);
    }
  }
  return b;
}

// The ids in a text file of whitespace-separated numbers (a committed reference).
inline std::vector<minigpt::TokenId> read_ids(const std::string& path) {
  std::istringstream in(minigpt::detail::read_file(path));
  std::vector<minigpt::TokenId> ids;
  long long v;
  while (in >> v) ids.push_back(static_cast<minigpt::TokenId>(v));
  return ids;
}

// The folders temp_dir made, removed with everything in them when the test program exits
// (kept when MINIGPT_KEEP_TEMP is set, to look at what a failing test wrote).
class TempDirs {
 public:
  TempDirs() = default;
  TempDirs(const TempDirs&) = delete;
  TempDirs& operator=(const TempDirs&) = delete;
  ~TempDirs() {
    const char* keep = std::getenv("MINIGPT_KEEP_TEMP");
    if (keep != nullptr && *keep != '\0') return;
    for (const std::string& d : dirs_) {
      std::error_code ec;  // a folder already gone is not an error at exit
      std::filesystem::remove_all(d, ec);
    }
  }
  void add(const std::string& dir) {
    if (std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end()) dirs_.push_back(dir);
  }

 private:
  std::vector<std::string> dirs_;
};
inline TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}

// A folder of its own under $TMPDIR (or /tmp), named after the caller and this process;
// removed when the test program exits.
inline std::string temp_dir(const std::string& name) {
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base && *base ? base : "/tmp") + "/minigpt_" + name + "_" + std::to_string(::getpid());
  minigpt::detail::make_directories(dir);
  temp_dirs().add(dir);
  return dir;
}

// A learnable token sequence for training tests: mostly "next = previous + 1", sometimes
// (one time in five) a random jump.
inline std::vector<minigpt::TokenId> learnable_tokens(minigpt::Index n, minigpt::Index vocab, std::uint64_t seed) {
  minigpt::Rng rng(seed);
  std::vector<minigpt::TokenId> t(static_cast<std::size_t>(n));
  minigpt::TokenId prev = 0;
  for (auto& x : t) {
    x = rng.uniform() < 0.8 ? static_cast<minigpt::TokenId>((prev + 1) % vocab)
                            : static_cast<minigpt::TokenId>(rng.below(static_cast<std::uint64_t>(vocab)));
    prev = x;
  }
  return t;
}

// What an example program printed (stdout and stderr together) and its exit status.
struct Run {
  int status = -1;  // the exit code; -1 when the program did not exit (a signal)
  std::string out;
};

// Runs a shell command line as it stands (its standard output is captured; add 2>&1 for the
// errors too), e.g. "cd DIR && ./program < input".
inline Run run_shell(const std::string& cmd) {
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Runs examples/<program> with args (shell words; quote them as in a terminal) and an optional
// shell redirection such as "< file"; captures what it printed on both streams.
inline Run run_program(const std::string& program, const std::string& args) {
  return run_shell(std::string(MINIGPT_EXAMPLES_DIR) + "/" + program + " " + args + " 2>&1");
}

// A path quoted for the shell.
inline std::string quoted(const std::string& path) { return "'" + path + "'"; }

// The contents of a file, bytes as they are ("" when it cannot be read).
inline std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}


}  // namespace test
