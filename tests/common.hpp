// Helpers shared by the test files: paths to the committed data, and comparisons.
#pragma once

#include <minigpt/safetensors.hpp>
#include <minigpt/tensor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

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

}  // namespace test
