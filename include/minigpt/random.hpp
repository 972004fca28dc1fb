// minigpt/random.hpp — one seeded random generator for everything that draws.
//
// Sampling the next token, initialising weights, drawing training windows and dropout masks
// all take an Rng. Same seed, same numbers, on every compiler: the engine is std::mt19937_64
// (its output is fixed by the C++ standard) and the conversions to float below are ours,
// because std::uniform_real_distribution and std::normal_distribution may differ between
// standard libraries.
//
// Example:  Rng rng(1337);  double u = rng.uniform();  // in [0, 1)
//
// Shapes in: none.  Shapes out: none.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace minigpt {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 1337) : engine_(seed) {}

  std::uint64_t next_u64() { return engine_(); }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), n > 0, without modulo bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = engine_(); while (x >= limit);
    return x % n;
  }

  // Standard normal by Box-Muller (both values used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1;
    do u1 = uniform(); while (u1 <= 0.0);
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double two_pi = 6.283185307179586476925286766559;
    spare_ = r * std::sin(two_pi * u2);
    has_spare_ = true;
    return r * std::cos(two_pi * u2);
  }

  // The whole state as text, so a training checkpoint can resume the very same stream.
  std::string state() const {
    std::ostringstream os;
    os << engine_ << ' ' << has_spare_ << ' ';
    os.precision(17);
    os << spare_;
    return os.str();
  }
  bool set_state(const std::string& s) {
    std::istringstream is(s);
    std::mt19937_64 e;
    bool has = false;
    double spare = 0;
    if (!(is >> e >> has >> spare)) return false;
    engine_ = e;
    has_spare_ = has;
    spare_ = spare;
    return true;
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Fisher–Yates with our own draws (std::shuffle's algorithm differs between standard
// libraries, so the same seed would give another order elsewhere).
// Example: v = [0 1 2], draws below(3) = 0, below(2) = 1 -> swap v[2], v[0]; keep v[1]: [2 1 0].
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<std::size_t>(rng.below(i))]);
}

}  // namespace minigpt
