// fp16, bf16 and Q8_0 (detail/quant.hpp): the conversions against Eigen's half and bfloat16
// (an independent implementation; with F16C, the CPU's own instruction), Q8_0 against its
// definition and its error bound, and every SIMD kernel this CPU runs against the scalar
// reference: exactly for the integer block dots, within float rounding for the sums.
#include <catch2/catch.hpp>
#include <minigpt/detail/quant.hpp>
#include <minigpt/random.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

// Inside a namespace of its own: the tests are compiled several files to a unit, and the
// using-directive for detail must not reach the next file.
namespace quant_test {
using namespace minigpt;
using namespace minigpt::detail;

namespace {

std::uint16_t eigen_half(float f) { return Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(f)); }
std::uint16_t eigen_bf16(float f) { return Eigen::numext::bit_cast<std::uint16_t>(Eigen::bfloat16(f)); }

std::vector<SimdKernel> kernels_here() {
  std::vector<SimdKernel> ks;
  for (SimdKernel k : {SimdKernel::scalar, SimdKernel::avx2, SimdKernel::avx512_vnni})
    if (simd_kernel_supported(k)) ks.push_back(k);
  return ks;
}

std::vector<float> random_floats(Rng& rng, Index n, double scale) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.normal() * scale);
  return v;
}

}  // namespace

TEST_CASE("fp16: every half value converts to float and back unchanged, as Eigen's half does", "[quant]") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = half_to_float(bits);
    const float expected = static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(bits));
    if (std::isnan(expected)) {
      REQUIRE(std::isnan(f));
      REQUIRE(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    REQUIRE(float_bits(f) == float_bits(expected));
    REQUIRE(float_to_half(f) == bits);
  }
}

TEST_CASE("fp16: rounding to nearest, ties to even, subnormals and overflow, as Eigen's half", "[quant]") {
  // Every midpoint between two neighbouring finite halves (the ties), and a value on each side.
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {
    const double a = half_to_float(static_cast<std::uint16_t>(h)), b = half_to_float(static_cast<std::uint16_t>(h + 1));
    const float mid = static_cast<float>((a + b) / 2);  // exact in float
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), -mid}) {
      INFO("f = " << f << " between halves " << h << " and " << h + 1);
      REQUIRE(float_to_half(f) == eigen_half(f));
    }
  }
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(65504.0f) == 0x7bff);
  CHECK(float_to_half(65519.99f) == 0x7bff);
  CHECK(float_to_half(65520.0f) == 0x7c00);  // the tie past the largest half goes to infinity
  CHECK(float_to_half(-1e10f) == 0xfc00);
  CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // half of it: a tie, to even (zero)
  CHECK(float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
  // A million random floats over the whole range of exponents.
  Rng rng(11);
  for (int i = 0; i < 1000000; ++i) {
    const float f = static_cast<float>(rng.normal() * std::ldexp(1.0, static_cast<int>(rng.uniform() * 60) - 40));
    REQUIRE(float_to_half(f) == eigen_half(f));
  }
}

TEST_CASE("bf16: round to nearest even, NaN kept, as Eigen's bfloat16", "[quant]") {
  Rng rng(12);
  for (int i = 0; i < 1000000; ++i) {
    const float f = static_cast<float>(rng.normal() * std::ldexp(1.0, static_cast<int>(rng.uniform() * 200) - 100));
    REQUIRE(float_to_bf16(f) == eigen_bf16(f));
    REQUIRE(float_bits(bf16_to_float(float_to_bf16(f))) == float_bits(static_cast<float>(Eigen::bfloat16(f))));
  }
  // Ties: exactly half-way between two bf16 values goes to the even one.
  CHECK(float_to_bf16(bits_float(0x3f808000u)) == 0x3f80);  // 1 + 2^-8: tie, 0x3f80 is even
  CHECK(float_to_bf16(bits_float(0x3f818000u)) == 0x3f82);  // tie, up to even
  CHECK(float_to_bf16(bits_float(0x3f808001u)) == 0x3f81);  // just past the tie
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(bits_float(0x7f800001u)))));  // a NaN that would round to inf
  CHECK(float_to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
}

TEST_CASE("Q8_0: the worked example of the header", "[quant]") {
  float x[32] = {1.0f, -0.5f, 0.26f};
  BlockQ8_0 b;
  quantize_block_q8_0(x, b);
  CHECK(b.d == float_to_half(1.0f / 127.0f));
  CHECK(b.qs[0] == 127);
  CHECK(b.qs[1] == -64);  // -63.5 rounds away from zero
  CHECK(b.qs[2] == 33);
  for (int j = 3; j < 32; ++j) CHECK(b.qs[j] == 0);
  float y[32];
  dequantize_q8_0(&b, y, 32);
  CHECK(y[1] == Approx(-0.5039).epsilon(1e-3));
}

TEST_CASE("Q8_0: per element |x - x̂| <= d/2 plus the fp16 rounding of d, at every scale", "[quant]") {
  Rng rng(13);
  for (double scale : {1e-6, 1e-4, 1e-2, 0.02, 1.0, 30.0, 1e3}) {
    const Index n = 32 * 64;
    std::vector<float> x = random_floats(rng, n, scale);
    if (scale == 1.0) x[5] = 0.0f;
    std::vector<BlockQ8_0> q(static_cast<std::size_t>(n / 32));
    quantize_q8_0(x.data(), q.data(), n);
    std::vector<float> back(static_cast<std::size_t>(n));
    dequantize_q8_0(q.data(), back.data(), n);
    for (Index b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (Index j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[static_cast<std::size_t>(b * 32 + j)]));
      const double d = amax / 127.0f, dh = half_to_float(q[static_cast<std::size_t>(b)].d);
      const double bound = d / 2 + 127 * std::fabs(d - dh) + 1e-6 * amax;
      for (Index j = 0; j < 32; ++j) {
        const auto i = static_cast<std::size_t>(b * 32 + j);
        INFO("scale " << scale << " block " << b << " x " << x[i] << " x̂ " << back[i] << " d " << d);
        REQUIRE(std::fabs(static_cast<double>(x[i]) - back[i]) <= bound);
        // q is roundf(x / d), as defined
        REQUIRE(q[static_cast<std::size_t>(b)].qs[j] == static_cast<int>(std::round(x[i] * (1.0f / static_cast<float>(d)))));
      }
    }
  }
}

TEST_CASE("Q8_0: a block of zeros has scale 0 and quantizes to zeros", "[quant]") {
  std::vector<float> x(64, 0.0f);
  x[40] = -3.0f;  // the second block is not zero
  BlockQ8_0 q[2];
  quantize_q8_0(x.data(), q, 64);
  CHECK(q[0].d == 0);
  for (int j = 0; j < 32; ++j) CHECK(q[0].qs[j] == 0);
  CHECK(q[1].qs[8] == -127);
  std::vector<float> back(64);
  dequantize_q8_0(q, back.data(), 64);
  CHECK(back[0] == 0.0f);
  CHECK(back[40] == Approx(-3.0f).epsilon(1e-3));
  CHECK_THROWS_AS(quantize_q8_0(x.data(), q, 48), ArgumentError);
  CHECK_THROWS_AS(quantize_matrix_q8_0(x.data(), 2, 24), ArgumentError);
}

TEST_CASE("Q8_0 kernels: integer block dots equal the scalar ones exactly, extremes included", "[quant]") {
  Rng rng(14);
  const Index nb = 37;  // odd: the two-block kernels end on a single block
  std::vector<BlockQ8_0> w(nb), x(nb);
  for (Index b = 0; b < nb; ++b)
    for (int j = 0; j < 32; ++j) {
      // weights may hold -128 (a file can); activations we quantize lie in [-127, 127]
      w[static_cast<std::size_t>(b)].qs[j] = static_cast<std::int8_t>(static_cast<int>(rng.uniform() * 256) - 128);
      x[static_cast<std::size_t>(b)].qs[j] = static_cast<std::int8_t>(static_cast<int>(rng.uniform() * 255) - 127);
    }
  // The most extreme blocks: every product at its largest magnitude, both signs.
  for (int j = 0; j < 32; ++j) {
    w[0].qs[j] = -128, x[0].qs[j] = -127;
    w[1].qs[j] = -128, x[1].qs[j] = 127;
    w[2].qs[j] = 127, x[2].qs[j] = 127;
    w[3].qs[j] = 0, x[3].qs[j] = -127;
  }
  std::vector<std::int32_t> ref(nb), got(nb);
  q8_0_block_sums(SimdKernel::scalar, w.data(), x.data(), nb, ref.data());
  CHECK(ref[0] == 32 * 128 * 127);
  CHECK(ref[1] == -32 * 128 * 127);
  for (SimdKernel k : kernels_here()) {
    INFO("kernel " << simd_kernel_name(k));
    q8_0_block_sums(k, w.data(), x.data(), nb, got.data());
    CHECK(got == ref);
    for (Index n : {Index(1), Index(2), Index(3), nb}) {
      std::vector<std::int32_t> part(static_cast<std::size_t>(n));
      q8_0_block_sums(k, w.data(), x.data(), n, part.data());
      CHECK(std::equal(part.begin(), part.end(), ref.begin()));
    }
  }
}

TEST_CASE("matmul_q8_0: every kernel equals the exact sum of the block products", "[quant]") {
  Rng rng(15);
  for (Index in : {Index(32), Index(96), Index(768)})
    for (Index out : {Index(1), Index(7), Index(33)})
      for (Index N : {Index(1), Index(3)}) {
        std::vector<float> W = random_floats(rng, out * in, 0.05), x = random_floats(rng, N * in, 1.0),
                           bias = random_floats(rng, out, 0.1);
        for (Index i = 0; i < in; ++i) W[static_cast<std::size_t>(i)] = 0.0f;  // row 0 all zero blocks
        const Q8_0Matrix Wq = quantize_matrix_q8_0(W.data(), out, in);
        const std::vector<BlockQ8_0> xq = quantize_rows_q8_0(x.data(), N, in);
        // The reference in double from the blocks themselves.
        std::vector<double> ref(static_cast<std::size_t>(N * out));
        double scale = 0;
        for (Index n = 0; n < N; ++n)
          for (Index o = 0; o < out; ++o) {
            double s = bias[static_cast<std::size_t>(o)], mag = std::fabs(s);
            for (Index b = 0; b < in / 32; ++b) {
              const BlockQ8_0 &wb = Wq.row(o)[b], &xb = xq[static_cast<std::size_t>(n * (in / 32) + b)];
              const double p = double(half_to_float(wb.d)) * half_to_float(xb.d) * block_dot_scalar(wb, xb);
              s += p;
              mag += std::fabs(p);
            }
            ref[static_cast<std::size_t>(n * out + o)] = s;
            scale = std::max(scale, mag);
          }
        for (SimdKernel k : kernels_here()) {
          INFO("kernel " << simd_kernel_name(k) << " in " << in << " out " << out << " N " << N);
          std::vector<float> y(static_cast<std::size_t>(N * out), -1.0f);
          matmul_q8_0(y.data(), x.data(), N, Wq, bias.data(), k);
          for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(std::fabs(y[i] - ref[i]) <= 1e-6 * scale);
          for (Index n = 0; n < N; ++n) CHECK(y[static_cast<std::size_t>(n * out)] == bias[0]);  // the zero row
        }
        // And the quantized product is close to the f32 one: the error of Q8_0 itself.
        std::vector<float> y(static_cast<std::size_t>(N * out));
        matmul_q8_0(y.data(), x.data(), N, Wq, bias.data());
        double worst = 0, mag = 0;
        for (Index n = 0; n < N; ++n)
          for (Index o = 0; o < out; ++o) {
            double s = bias[static_cast<std::size_t>(o)];
            for (Index i = 0; i < in; ++i) s += double(W[static_cast<std::size_t>(o * in + i)]) * x[static_cast<std::size_t>(n * in + i)];
            worst = std::max(worst, std::fabs(s - y[static_cast<std::size_t>(n * out + o)]));
            mag = std::max(mag, std::fabs(s));
          }
        CHECK(worst <= 0.02 * mag + 1e-3);
      }
}

TEST_CASE("matmul_bf16: every kernel equals the f32 product with bf16-rounded weights", "[quant]") {
  Rng rng(16);
  for (Index in : {Index(1), Index(7), Index(16), Index(33), Index(100), Index(768)})
    for (Index out : {Index(1), Index(5), Index(40)})
      for (Index N : {Index(1), Index(2)}) {
        const std::vector<float> W = random_floats(rng, out * in, 0.05), x = random_floats(rng, N * in, 1.0);
        const BF16Matrix Wb = to_bf16_matrix(W.data(), out, in);
        for (SimdKernel k : kernels_here()) {
          INFO("kernel " << simd_kernel_name(k) << " in " << in << " out " << out << " N " << N);
          std::vector<float> y(static_cast<std::size_t>(N * out));
          matmul_bf16(y.data(), x.data(), N, Wb, nullptr, k);
          for (Index n = 0; n < N; ++n)
            for (Index o = 0; o < out; ++o) {
              double s = 0, mag = 0;
              for (Index i = 0; i < in; ++i) {
                const double p = double(bf16_to_float(Wb.row(o)[i])) * x[static_cast<std::size_t>(n * in + i)];
                s += p;
                mag += std::fabs(p);
              }
              REQUIRE(std::fabs(y[static_cast<std::size_t>(n * out + o)] - s) <= 1e-6 * mag + 1e-30);
            }
        }
      }
}

}  // namespace quant_test
