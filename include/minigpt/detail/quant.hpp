// minigpt/detail/quant.hpp — fewer bytes per weight: fp16, bf16 and ggml's Q8_0, and the
// matrix products a decoder runs on them.
//
// Chapter idea: generating one token reads every weight of the model once, so decoding runs
// at the speed memory delivers bytes (GPT-2 small: 498 MB in f32 per token). Storing each
// weight in fewer bytes is the only way past that bound:
//
//   f32   4 bytes   the reference
//   f16   2 bytes   1 sign, 5 exponent, 10 mantissa bits (IEEE half)
//   bf16  2 bytes   1 sign, 8 exponent, 7 mantissa bits: the top half of an f32
//   Q8_0  34 bytes per 32 weights (8.5 bits each): ggml's block, as GGUF files store it
//           struct { fp16 d; int8 q[32]; }          x̂_j = d · q_j
//           amax = max_j |x_j|,  d = amax / 127,  q_j = roundf(x_j · (1/d))   (0 when d = 0)
//         so |x_j − x̂_j| ≤ d/2 plus what storing d as fp16 costs (|d − fp16(d)| · 127).
//         (roundf rounds halves away from zero, and ggml multiplies by 1/d rather than
//         dividing by d; both are copied exactly, so our blocks are ggml's bit for bit.)
//
// fp16 and bf16 are rounded to the nearest value, ties to even (bf16 NaNs stay NaN, made
// quiet, as ggml does).
//
// The products (what a linear layer needs; W is stored (out, in), one row per output, as
// GGUF and ggml store it, and as PyTorch's nn.Linear does):
//
//   y (N, out) = x (N, in) · Wᵀ [+ b]
//
//   matmul_q8_0: W as rows of Q8_0 blocks. Each row of x is first quantized to Q8_0 blocks
//     of its own (as llama.cpp does for its Q8_0 weights), then each output is
//         y[n][o] = Σ_blocks  d_w · d_x · (Σ_{j<32} q_w[j] · q_x[j])
//     the inner sum in exact 32-bit integers, the outer one in float.
//   matmul_bf16: W as bf16, x kept in f32 (bf16 → f32 is exact: a 16-bit shift), so the
//     result is the f32 product with bf16-rounded weights; only the weights lose bits.
//     (AVX-512 BF16's dot instruction would round the activations to bf16 as well; decoding
//     is bound by reading the weights, not by the multiplies, so it would buy nothing.)
//
// Worked example (one block, 32 values, x_0 = 1.0, x_1 = -0.5, x_2 = 0.26, the rest 0):
//     amax = 1.0, d = 1/127 = 0.007874 (fp16: 0.007874), q = [127, -64, 33, 0, ...]
//     (-0.5 · 127 = -63.5 rounds away from zero to -64; 0.26 · 127 = 33.02 -> 33)
//     x̂ = [1.0, -0.5039, 0.2598, 0, ...]
//
// Kernels, chosen at run time (one header, no -march flag needed, works on any x86-64 and
// on other CPUs through the scalar code):
//   scalar        portable C++, the reference every other kernel is tested against
//   avx2          AVX2 + FMA + F16C (Haswell, Zen 1 and later). Integer dots with the
//                 unsigned×signed trick: _mm256_maddubs_epi16 multiplies unsigned bytes by
//                 signed bytes, so it is fed |q_w| and q_x with q_w's sign moved onto it
//                 (_mm256_sign_epi8); the pair sums stay below 2·128·127 < 2^15, so the
//                 16-bit sums never saturate.
//   avx512_vnni   AVX-512 F/BW/VL/DQ + VNNI (Ice Lake, Zen 4 and later): two blocks per
//                 512-bit register, _mm512_dpbusd_epi32 (unsigned × signed bytes, four
//                 products summed into each 32-bit lane, no saturation) with the same
//                 sign trick (|q_w|, and q_x negated where q_w < 0 by a mask).
// best_simd_kernel() picks the widest the CPU has (cpuid, through __builtin_cpu_supports);
// every function takes the kernel as an argument, so a test can force `scalar` and check
// the others against it on whatever CPU runs it. Run time rather than build time because
// the library is header-only and installed: a program built without -march=native still
// gets the fast kernels, and one binary runs on every x86-64. Rows of the output are shared
// among the threads (detail/parallel.hpp).
//
// The model's own products (GPT::set_weight_format, linear.hpp) use the packed layouts at the
// end of this file: PackedMatrix holds W in groups of 8 (Q8_0) or 16 (bf16) rows interleaved
// so that one SIMD load feeds 8 output rows at once (detail/quant_x86.hpp), and
// packed_matmul gives the same bits with every kernel, batch size and thread count.
//
// Shapes: x (N, in) f32, W (out, in) with in a multiple of 32 for Q8_0, y (N, out) f32.
#pragma once

#include "../error.hpp"
#include "../tensor.hpp"
#include "../weight_format.hpp"
#include "checked.hpp"
#include "parallel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MINIGPT_QUANT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define MINIGPT_QUANT_X86 0
#endif

namespace minigpt {
namespace detail {

// ---- fp16 and bf16 ------------------------------------------------------------------------

inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE half -> float (exact).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));  // inf, NaN
  if (exp == 0) {
    // zero or subnormal: man · 2^-24
    const float v = static_cast<float>(man) * bits_float(0x33800000u);  // 2^-24
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112) << 23) | (man << 13));  // rebias 15 -> 127
}

// float -> IEEE half, rounded to nearest, ties to even; overflow gives inf, NaN stays NaN.
inline std::uint16_t float_to_half(float f) {
  const std::uint32_t u = float_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN, quiet
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // ≥ 65520 rounds to inf
  if (a < 0x38800000u) {
    // below the smallest normal half (2^-14): a subnormal half, man = round(|f| · 2^24)
    if (a < 0x33000000u) return sign;  // < 2^-25: rounds to zero (2^-25 itself ties to 0)
    const std::uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - e;  // |f| = m · 2^(e-150); we want m · 2^(e-150+24)
    std::uint32_t r = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (r & 1))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  // normal: drop 13 mantissa bits with round-to-nearest-even (a carry may bump the exponent)
  const std::uint32_t rebased = a - (112u << 23);
  const std::uint32_t r = (rebased + 0xfffu + ((rebased >> 13) & 1)) >> 13;
  return static_cast<std::uint16_t>(sign | r);
}

inline float bf16_to_float(std::uint16_t b) { return bits_float(static_cast<std::uint32_t>(b) << 16); }

// float -> bf16: the top 16 bits, rounded to nearest, ties to even (ggml's rule).
inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 64);  // NaN, quiet
  return static_cast<std::uint16_t>((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

// ---- Q8_0 blocks --------------------------------------------------------------------------

constexpr Index kQ8Block = 32;  // values per Q8_0 block

struct BlockQ8_0 {
  std::uint16_t d;      // scale, IEEE half
  std::int8_t qs[32];   // x̂_j = d · qs[j]
};
static_assert(sizeof(BlockQ8_0) == 34, "a Q8_0 block is 34 bytes, as in ggml and GGUF");

// One block from 32 floats, as ggml's quantize_row_q8_0_ref. Values must be finite (a NaN
// or an infinity gives q = 0 in its place rather than undefined behaviour).
inline void quantize_block_q8_0(const float* x, BlockQ8_0& y) {
  float amax = 0.0f;
  for (Index j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y.d = float_to_half(d);
  for (Index j = 0; j < kQ8Block; ++j) {
    const float r = std::round(x[j] * id);
    y.qs[j] = r >= -128.0f && r <= 127.0f ? static_cast<std::int8_t>(r) : std::int8_t(0);
  }
}

// n values (a multiple of 32) -> n / 32 blocks.
inline void quantize_q8_0(const float* x, BlockQ8_0* y, Index n) {
  if (n % kQ8Block != 0) throw ArgumentError("quantize_q8_0: " + std::to_string(n) + " values is not a multiple of 32");
  for (Index b = 0; b < n / kQ8Block; ++b) quantize_block_q8_0(x + b * kQ8Block, y[b]);
}

// n / 32 blocks -> n values.
inline void dequantize_q8_0(const BlockQ8_0* x, float* y, Index n) {
  if (n % kQ8Block != 0) throw ArgumentError("dequantize_q8_0: " + std::to_string(n) + " values is not a multiple of 32");
  for (Index b = 0; b < n / kQ8Block; ++b) {
    const float d = half_to_float(x[b].d);
    for (Index j = 0; j < kQ8Block; ++j) y[b * kQ8Block + j] = d * static_cast<float>(x[b].qs[j]);
  }
}

// A weight matrix (rows = out, cols = in) as rows of Q8_0 blocks, row o holding blocks
// [o · cols/32, (o+1) · cols/32): ggml's and GGUF's layout.
struct Q8_0Matrix {
  Index rows = 0, cols = 0;
  std::vector<BlockQ8_0> blocks;
  Index blocks_per_row() const { return cols / kQ8Block; }
  const BlockQ8_0* row(Index o) const { return blocks.data() + o * blocks_per_row(); }
};

// W (rows, cols) f32, row-major -> Q8_0 rows. cols must be a multiple of 32.
inline Q8_0Matrix quantize_matrix_q8_0(const float* W, Index rows, Index cols) {
  if (rows < 0 || cols <= 0 || cols % kQ8Block != 0)
    throw ArgumentError("quantize_matrix_q8_0: a (" + std::to_string(rows) + ", " + std::to_string(cols) +
                        ") matrix: rows of Q8_0 need a multiple of 32 columns");
  Q8_0Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.blocks.resize(static_cast<std::size_t>(checked_mul(rows, cols / kQ8Block, "Q8_0 blocks")));
  quantize_q8_0(W, m.blocks.data(), rows * cols);
  return m;
}

// A weight matrix (rows = out, cols = in) in bf16, row-major.
struct BF16Matrix {
  Index rows = 0, cols = 0;
  std::vector<std::uint16_t> data;
  const std::uint16_t* row(Index o) const { return data.data() + o * cols; }
};

inline BF16Matrix to_bf16_matrix(const float* W, Index rows, Index cols) {
  BF16Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.data.resize(static_cast<std::size_t>(checked_mul(rows, cols, "bf16 matrix")));
  for (std::size_t i = 0; i < m.data.size(); ++i) m.data[i] = float_to_bf16(W[i]);
  return m;
}

// ---- kernels ------------------------------------------------------------------------------

enum class SimdKernel { scalar, avx2, avx512_vnni };

inline const char* simd_kernel_name(SimdKernel k) {
  switch (k) {
    case SimdKernel::scalar: return "scalar";
    case SimdKernel::avx2: return "avx2";
    case SimdKernel::avx512_vnni: return "avx512_vnni";
  }
  return "?";
}

// Whether this CPU (and this build) can run kernel k.
inline bool simd_kernel_supported(SimdKernel k) {
  if (k == SimdKernel::scalar) return true;
#if MINIGPT_QUANT_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  if (k == SimdKernel::avx2) return avx2;
  return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

// The widest kernel this CPU runs.
inline SimdKernel best_simd_kernel() {
  if (simd_kernel_supported(SimdKernel::avx512_vnni)) return SimdKernel::avx512_vnni;
  if (simd_kernel_supported(SimdKernel::avx2)) return SimdKernel::avx2;
  return SimdKernel::scalar;
}

inline void require_kernel(SimdKernel k, const char* who) {
  if (!simd_kernel_supported(k))
    throw ArgumentError(std::string(who) + ": this CPU cannot run the " + simd_kernel_name(k) + " kernel");
}

// -- scalar: the reference --

inline std::int32_t block_dot_scalar(const BlockQ8_0& w, const BlockQ8_0& x) {
  std::int32_t s = 0;
  for (Index j = 0; j < kQ8Block; ++j) s += static_cast<std::int32_t>(w.qs[j]) * static_cast<std::int32_t>(x.qs[j]);
  return s;
}

inline float dot_q8_0_scalar(const BlockQ8_0* w, const BlockQ8_0* x, Index nb) {
  float acc = 0.0f;
  for (Index b = 0; b < nb; ++b)
    acc += half_to_float(w[b].d) * half_to_float(x[b].d) * static_cast<float>(block_dot_scalar(w[b], x[b]));
  return acc;
}

inline float dot_bf16_scalar(const std::uint16_t* w, const float* x, Index n) {
  float acc = 0.0f;
  for (Index i = 0; i < n; ++i) acc += bf16_to_float(w[i]) * x[i];
  return acc;
}

#if MINIGPT_QUANT_X86
// -- AVX2 --
#define MINIGPT_AVX2 __attribute__((target("avx2,fma,f16c")))

MINIGPT_AVX2 inline __m256i block_products_avx2(const BlockQ8_0& w, const BlockQ8_0& x) {
  const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(qw), _mm256_sign_epi8(qx, qw));  // 16 × int16
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));                                       // 8 × int32
}

MINIGPT_AVX2 inline float hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

MINIGPT_AVX2 inline std::int32_t hsum_epi32_avx2(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

MINIGPT_AVX2 inline float dot_q8_0_avx2(const BlockQ8_0* w, const BlockQ8_0* x, Index nb) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  Index b = 0;
  for (; b + 1 < nb; b += 2) {
    const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
    const __m256 d1 = _mm256_set1_ps(_cvtsh_ss(w[b + 1].d) * _cvtsh_ss(x[b + 1].d));
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(block_products_avx2(w[b], x[b])), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(block_products_avx2(w[b + 1], x[b + 1])), acc1);
  }
  if (b < nb) {
    const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(block_products_avx2(w[b], x[b])), acc0);
  }
  return hsum_avx2(_mm256_add_ps(acc0, acc1));
}

MINIGPT_AVX2 inline void block_sums_avx2(const BlockQ8_0* w, const BlockQ8_0* x, Index nb, std::int32_t* out) {
  for (Index b = 0; b < nb; ++b) out[b] = hsum_epi32_avx2(block_products_avx2(w[b], x[b]));
}

MINIGPT_AVX2 inline __m256 load_bf16x8_avx2(const std::uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

MINIGPT_AVX2 inline float dot_bf16_avx2(const std::uint16_t* w, const float* x, Index n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  Index i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(load_bf16x8_avx2(w + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(load_bf16x8_avx2(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_bf16x8_avx2(w + i), _mm256_loadu_ps(x + i), acc0);
  float s = hsum_avx2(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += bf16_to_float(w[i]) * x[i];
  return s;
}

// -- AVX-512 with VNNI --
// GCC 12's AVX-512 headers start some casts and reductions from an undefined register and
// warn about it wherever they are inlined (GCC bug 105593, fixed in 13): silenced here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define MINIGPT_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

// q_w's sign moved onto q_x, so that |q_w| (unsigned) · that (signed) = q_w · q_x.
MINIGPT_AVX512 inline __m512i signed_products_avx512(__m512i qw, __m512i qx) {
  const __mmask64 negative = _mm512_movepi8_mask(qw);
  const __m512i sx = _mm512_mask_sub_epi8(qx, negative, _mm512_setzero_si512(), qx);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(qw), sx);  // 16 × int32
}

// Blocks b and b+1 side by side in one register (a block's 32 bytes are not contiguous with
// the next block's: each has its 2-byte scale in front).
MINIGPT_AVX512 inline __m512i load_two_blocks_avx512(const BlockQ8_0* p) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[0].qs));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[1].qs));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

MINIGPT_AVX512 inline __m256i block_products_avx512(const BlockQ8_0& w, const BlockQ8_0& x) {
  const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
  const __mmask32 negative = _mm256_movepi8_mask(qw);
  const __m256i sx = _mm256_mask_sub_epi8(qx, negative, _mm256_setzero_si256(), qx);
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(qw), sx);  // 8 × int32
}

MINIGPT_AVX512 inline float dot_q8_0_avx512(const BlockQ8_0* w, const BlockQ8_0* x, Index nb) {
  __m512 acc = _mm512_setzero_ps();
  Index b = 0;
  for (; b + 1 < nb; b += 2) {
    const __m512i p = signed_products_avx512(load_two_blocks_avx512(w + b), load_two_blocks_avx512(x + b));
    const float d0 = _cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d), d1 = _cvtsh_ss(w[b + 1].d) * _cvtsh_ss(x[b + 1].d);
    const __m512 d = _mm512_mask_blend_ps(__mmask16(0xff00), _mm512_set1_ps(d0), _mm512_set1_ps(d1));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  if (b < nb) {
    const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
    s += hsum_avx2(_mm256_mul_ps(d0, _mm256_cvtepi32_ps(block_products_avx512(w[b], x[b]))));
  }
  return s;
}

MINIGPT_AVX512 inline void block_sums_avx512(const BlockQ8_0* w, const BlockQ8_0* x, Index nb, std::int32_t* out) {
  Index b = 0;
  for (; b + 1 < nb; b += 2) {
    const __m512i p = signed_products_avx512(load_two_blocks_avx512(w + b), load_two_blocks_avx512(x + b));
    out[b] = hsum_epi32_avx2(_mm512_castsi512_si256(p));
    out[b + 1] = hsum_epi32_avx2(_mm512_extracti64x4_epi64(p, 1));
  }
  if (b < nb) out[b] = hsum_epi32_avx2(block_products_avx512(w[b], x[b]));
}

MINIGPT_AVX512 inline __m512 load_bf16x16_avx512(const std::uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

MINIGPT_AVX512 inline float dot_bf16_avx512(const std::uint16_t* w, const float* x, Index n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  Index i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(load_bf16x16_avx512(w + i), _mm512_loadu_ps(x + i), acc0);
    acc1 = _mm512_fmadd_ps(load_bf16x16_avx512(w + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(load_bf16x16_avx512(w + i), _mm512_loadu_ps(x + i), acc0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) s += bf16_to_float(w[i]) * x[i];
  return s;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // MINIGPT_QUANT_X86

// One row pair with kernel k.
inline float dot_q8_0(SimdKernel k, const BlockQ8_0* w, const BlockQ8_0* x, Index nb) {
#if MINIGPT_QUANT_X86
  if (k == SimdKernel::avx512_vnni) return dot_q8_0_avx512(w, x, nb);
  if (k == SimdKernel::avx2) return dot_q8_0_avx2(w, x, nb);
#endif
  (void)k;
  return dot_q8_0_scalar(w, x, nb);
}

// The exact integer dot of each block pair, computed with kernel k's instructions (for the
// tests: every kernel must give the scalar sums exactly).
inline void q8_0_block_sums(SimdKernel k, const BlockQ8_0* w, const BlockQ8_0* x, Index nb, std::int32_t* out) {
  require_kernel(k, "q8_0_block_sums");
#if MINIGPT_QUANT_X86
  if (k == SimdKernel::avx512_vnni) return block_sums_avx512(w, x, nb, out);
  if (k == SimdKernel::avx2) return block_sums_avx2(w, x, nb, out);
#endif
  for (Index b = 0; b < nb; ++b) out[b] = block_dot_scalar(w[b], x[b]);
}

inline float dot_bf16(SimdKernel k, const std::uint16_t* w, const float* x, Index n) {
#if MINIGPT_QUANT_X86
  if (k == SimdKernel::avx512_vnni) return dot_bf16_avx512(w, x, n);
  if (k == SimdKernel::avx2) return dot_bf16_avx2(w, x, n);
#endif
  (void)k;
  return dot_bf16_scalar(w, x, n);
}

// ---- the products -------------------------------------------------------------------------

// Shared driver: y[n][o] = dot(o, n) (+ b[o]) over chunks of output rows, on all threads.
// Within a chunk the weight row stays in cache while every row of x passes over it.
template <typename RowDot>
void for_output_rows(float* y, const float* bias, Index N, Index out, Index in, RowDot&& dot) {
  constexpr Index kRows = 16;
  const Index chunks = (out + kRows - 1) / kRows;
  parallel_for(chunks, static_cast<double>(kRows * in * N), [&](Index c) {
    const Index end = std::min(out, (c + 1) * kRows);
    for (Index o = c * kRows; o < end; ++o)
      for (Index n = 0; n < N; ++n) y[n * out + o] = dot(o, n) + (bias ? bias[o] : 0.0f);
  });
}

// The rows of x (N, in) as Q8_0 blocks, N · in/32 of them: what matmul_q8_0 multiplies by.
inline std::vector<BlockQ8_0> quantize_rows_q8_0(const float* x, Index N, Index in) {
  std::vector<BlockQ8_0> xq(static_cast<std::size_t>(checked_mul(N, in / kQ8Block, "activation blocks")));
  parallel_for(N, static_cast<double>(in), [&](Index n) { quantize_q8_0(x + n * in, xq.data() + n * (in / kQ8Block), in); });
  return xq;
}

// y (N, out) = x (N, in) · Wᵀ + bias (bias may be null; W.rows = out, W.cols = in).
inline void matmul_q8_0(float* y, const float* x, Index N, const Q8_0Matrix& W, const float* bias = nullptr,
                        SimdKernel k = best_simd_kernel()) {
  require_kernel(k, "matmul_q8_0");
  if (N < 0 || W.cols % kQ8Block != 0 || static_cast<Index>(W.blocks.size()) != W.rows * W.blocks_per_row())
    throw ArgumentError("matmul_q8_0: a (" + std::to_string(W.rows) + ", " + std::to_string(W.cols) +
                        ") Q8_0 matrix needs a multiple of 32 columns and rows · cols/32 blocks");
  const Index in = W.cols, nb = W.blocks_per_row();
  const std::vector<BlockQ8_0> xq = quantize_rows_q8_0(x, N, in);
  for_output_rows(y, bias, N, W.rows, in, [&](Index o, Index n) { return dot_q8_0(k, W.row(o), xq.data() + n * nb, nb); });
}

// y (N, out) = x (N, in) · Wᵀ + bias, W in bf16, x in f32.
inline void matmul_bf16(float* y, const float* x, Index N, const BF16Matrix& W, const float* bias = nullptr,
                        SimdKernel k = best_simd_kernel()) {
  require_kernel(k, "matmul_bf16");
  if (N < 0 || static_cast<Index>(W.data.size()) != W.rows * W.cols)
    throw ArgumentError("matmul_bf16: the matrix holds " + std::to_string(W.data.size()) + " values, not rows · cols");
  const Index in = W.cols;
  for_output_rows(y, bias, N, W.rows, in, [&](Index o, Index n) { return dot_bf16(k, W.row(o), x + n * in, in); });
}

}  // namespace detail
}  // namespace minigpt

namespace minigpt {
namespace detail {

// ---- packed weights: the layouts the kernels read ------------------------------------------

constexpr Index kQ8Rows = 8;     // Q8_0: rows per group (one 256-bit register of int32 sums)
constexpr Index kBF16Rows = 16;  // bf16: rows per group (two registers of floats)

// A weight matrix W (rows = out, cols = in) in bf16 or Q8_0, laid out for y = x · Wᵀ:
//
//   q8_0  rows in groups of 8 (the last padded with zero rows); for group g and block b (32
//         columns), 256 bytes: 8 chunks k of 32 bytes, chunk k holding bytes 4k .. 4k+3 of
//         the block for rows 0..7 side by side; and 8 fp16 scales, one per row. So one load
//         brings 4 values of 8 rows, multiplied by the same 4 values of x, and the 32-bit
//         lane j of the result belongs to row j alone: no horizontal sums.
//   bf16  rows in groups of 16; for group g and column i, the 16 rows' values side by side
//         (rows 0-3, 8-11, 4-7, 12-15, so that widening the low and high halves gives rows
//         0..7 and 8..15 in order).
struct PackedMatrix {
  WeightFormat format = WeightFormat::f32;  // bf16 or q8_0
  Index rows = 0, cols = 0;                 // out, in
  SimdKernel kernel = SimdKernel::scalar;   // which instructions multiply by it
  std::vector<std::int8_t, Eigen::aligned_allocator<std::int8_t>> qs;      // q8_0 values
  std::vector<std::uint16_t> scales;                                       // q8_0 fp16 scales
  std::vector<std::uint16_t, Eigen::aligned_allocator<std::uint16_t>> bf;  // bf16 values

  Index blocks() const { return cols / kQ8Block; }
  Index groups() const {
    const Index g = format == WeightFormat::q8_0 ? kQ8Rows : kBF16Rows;
    return (rows + g - 1) / g;
  }
  const std::int8_t* q8_group(Index g) const { return qs.data() + g * blocks() * 256; }
  const std::uint16_t* q8_scales(Index g) const { return scales.data() + g * blocks() * kQ8Rows; }
  const std::uint16_t* bf16_group(Index g) const { return bf.data() + g * cols * kBF16Rows; }

  // Where weight (r, c) lives.
  std::size_t q8_at(Index r, Index c) const {
    const Index g = r / kQ8Rows, b = c / kQ8Block, e = c % kQ8Block;
    return static_cast<std::size_t>(((g * blocks() + b) * 8 + e / 4) * 32 + (r % kQ8Rows) * 4 + e % 4);
  }
  std::size_t q8_scale_at(Index r, Index b) const {
    return static_cast<std::size_t>((r / kQ8Rows * blocks() + b) * kQ8Rows + r % kQ8Rows);
  }
  std::size_t bf16_at(Index r, Index c) const {
    static constexpr int lane[16] = {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};
    return static_cast<std::size_t>((r / kBF16Rows * cols + c) * kBF16Rows + lane[r % kBF16Rows]);
  }

  // Weight (r, c) as the product uses it: d · q, or the bf16 value, in f32.
  float value(Index r, Index c) const {
    if (format == WeightFormat::q8_0)
      return half_to_float(scales[q8_scale_at(r, c / kQ8Block)]) * static_cast<float>(qs[q8_at(r, c)]);
    return bf16_to_float(bf[bf16_at(r, c)]);
  }
  // Bytes a product reads from it (padding included).
  Index bytes() const {
    return static_cast<Index>(qs.size() + 2 * scales.size() + 2 * bf.size());
  }
};

// Whether a (rows, cols) matrix can be held in format f (Q8_0 needs whole blocks of 32).
inline bool packable(WeightFormat f, Index rows, Index cols) {
  if (f == WeightFormat::f32 || rows <= 0 || cols <= 0) return false;
  return f == WeightFormat::bf16 || cols % kQ8Block == 0;
}

// W in format f from an f32 source read as src[r * row_stride + c * col_stride], so that a
// matrix stored (in, out), as GPT-2's linear weights are, packs without a transposed copy.
inline PackedMatrix pack_matrix(WeightFormat f, const float* src, Index rows, Index cols, Index row_stride,
                                Index col_stride, SimdKernel k) {
  if (!packable(f, rows, cols))
    throw ArgumentError(std::string("pack_matrix: a (") + std::to_string(rows) + ", " + std::to_string(cols) +
                        ") matrix cannot be held in " + weight_format_name(f) +
                        (f == WeightFormat::q8_0 ? " (its rows are not whole blocks of 32)" : ""));
  PackedMatrix m;
  m.format = f;
  m.rows = rows;
  m.cols = cols;
  m.kernel = k;
  const Index padded = m.groups() * (f == WeightFormat::q8_0 ? kQ8Rows : kBF16Rows);
  const Index n = checked_mul(padded, cols, "packed matrix");
  if (f == WeightFormat::bf16) {
    m.bf.assign(static_cast<std::size_t>(n), 0);
    parallel_for(rows, static_cast<double>(cols), [&](Index r) {
      for (Index c = 0; c < cols; ++c) m.bf[m.bf16_at(r, c)] = float_to_bf16(src[r * row_stride + c * col_stride]);
    });
    return m;
  }
  m.qs.assign(static_cast<std::size_t>(n), 0);
  m.scales.assign(static_cast<std::size_t>(n / kQ8Block), 0);
  parallel_for(rows, static_cast<double>(2 * cols), [&](Index r) {
    float block[kQ8Block];
    BlockQ8_0 q;
    for (Index b = 0; b < m.blocks(); ++b) {
      for (Index e = 0; e < kQ8Block; ++e) block[e] = src[r * row_stride + (b * kQ8Block + e) * col_stride];
      quantize_block_q8_0(block, q);
      m.scales[m.q8_scale_at(r, b)] = q.d;
      for (Index e = 0; e < kQ8Block; ++e) m.qs[m.q8_at(r, b * kQ8Block + e)] = q.qs[e];
    }
  });
  return m;
}

// A GGUF file's Q8_0 blocks, packed as they are (no rounding twice).
inline PackedMatrix pack_q8_0_blocks(const Q8_0Matrix& w, SimdKernel k) {
  if (!packable(WeightFormat::q8_0, w.rows, w.cols) || static_cast<Index>(w.blocks.size()) != w.rows * w.blocks_per_row())
    throw ArgumentError("pack_q8_0_blocks: not a whole (rows, cols) matrix of Q8_0 blocks");
  PackedMatrix m;
  m.format = WeightFormat::q8_0;
  m.rows = w.rows;
  m.cols = w.cols;
  m.kernel = k;
  const Index n = checked_mul(m.groups() * kQ8Rows, w.cols, "packed matrix");
  m.qs.assign(static_cast<std::size_t>(n), 0);
  m.scales.assign(static_cast<std::size_t>(n / kQ8Block), 0);
  for (Index r = 0; r < w.rows; ++r)
    for (Index b = 0; b < w.blocks_per_row(); ++b) {
      const BlockQ8_0& q = w.row(r)[b];
      m.scales[m.q8_scale_at(r, b)] = q.d;
      for (Index e = 0; e < kQ8Block; ++e) m.qs[m.q8_at(r, b * kQ8Block + e)] = q.qs[e];
    }
  return m;
}

// ---- activations: the rows of x as Q8_0, quantized on the fly -----------------------------

struct QuantizedRows {
  Index cols = 0;
  std::vector<std::int8_t> q;  // (N, cols)
  std::vector<float> d;        // (N, cols / 32): each block's fp16 scale, as a float
  std::vector<std::uint8_t> u; // (N, cols): q + 128, unsigned (what vpdpbusd multiplies)
  const std::int8_t* qs(Index n) const { return q.data() + n * cols; }
  const std::uint8_t* us(Index n) const { return u.data() + n * cols; }
  const float* scale(Index n) const { return d.data() + n * (cols / kQ8Block); }
};

// x (N, cols), row n at x + n * ldx -> Q8_0 blocks (ggml's quantize_row_q8_0, as llama.cpp
// quantizes the activations it multiplies Q8_0 weights by).
inline void quantize_rows(QuantizedRows& out, const float* x, Index ldx, Index N, Index cols) {
  const Index nb = cols / kQ8Block;
  out.cols = cols;
  out.q.resize(static_cast<std::size_t>(N * cols));
  out.d.resize(static_cast<std::size_t>(N * nb));
  out.u.resize(static_cast<std::size_t>(N * cols));
  parallel_for(N, static_cast<double>(4 * cols), [&](Index n) {
    BlockQ8_0 q;
    for (Index b = 0; b < nb; ++b) {
      quantize_block_q8_0(x + n * ldx + b * kQ8Block, q);
      std::memcpy(out.q.data() + n * cols + b * kQ8Block, q.qs, kQ8Block);
      for (Index j = 0; j < kQ8Block; ++j)
        out.u[static_cast<std::size_t>(n * cols + b * kQ8Block + j)] = static_cast<std::uint8_t>(q.qs[j] + 128);
      out.d[static_cast<std::size_t>(n * nb + b)] = half_to_float(q.d);
    }
  });
}

// ---- the products: y (N, rows) = x (N, cols) · Wᵀ + bias -----------------------------------
//
// Every kernel computes each output in the same order, so that all of them (and any number
// of rows N, and any number of threads) give the same bits:
//   q8_0:  y = Σ_b fma, in block order from 0:  acc ← fma(d_w[b] · d_x[b], Σ_j q_w[j] q_x[j], acc)
//          (the inner sum an exact 32-bit integer, d_w · d_x rounded to float first);
//   bf16:  y = Σ_i fma, in column order from 0: acc ← fma(w_i, x_i, acc);
//   then y = acc + bias. The SIMD kernels put 8 rows of W in the 8 lanes of a register, so
//   each lane runs exactly this sequence for its row.

// The scalar reference.
inline void q8_0_groups_scalar(const PackedMatrix& W, Index g0, Index g1, const QuantizedRows& x, Index N, float* y,
                               Index ldy, const float* bias) {
  const Index nb = W.blocks();
  for (Index r = g0 * kQ8Rows; r < std::min(W.rows, g1 * kQ8Rows); ++r)
    for (Index n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (Index b = 0; b < nb; ++b) {
        std::int32_t s = 0;
        for (Index e = 0; e < kQ8Block; ++e)
          s += static_cast<std::int32_t>(W.qs[W.q8_at(r, b * kQ8Block + e)]) * x.qs(n)[b * kQ8Block + e];
        const float d = half_to_float(W.scales[W.q8_scale_at(r, b)]) * x.scale(n)[b];
        acc = std::fma(d, static_cast<float>(s), acc);
      }
      y[n * ldy + r] = bias ? acc + bias[r] : acc;
    }
}

inline void bf16_groups_scalar(const PackedMatrix& W, Index g0, Index g1, const float* x, Index ldx, Index N, float* y,
                               Index ldy, const float* bias) {
  for (Index r = g0 * kBF16Rows; r < std::min(W.rows, g1 * kBF16Rows); ++r)
    for (Index n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (Index c = 0; c < W.cols; ++c) acc = std::fma(bf16_to_float(W.bf[W.bf16_at(r, c)]), x[n * ldx + c], acc);
      y[n * ldy + r] = bias ? acc + bias[r] : acc;
    }
}

}  // namespace detail
}  // namespace minigpt

#if MINIGPT_QUANT_X86
// The SIMD kernels, written once (detail/quant_x86.hpp) and compiled once per instruction set.
#define MINIGPT_KERNEL_NS avx2
#define MINIGPT_KERNEL_TARGET __attribute__((target("avx2,fma,f16c")))
#define MINIGPT_KERNEL_DOT(acc, wa, xs) \
  acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(wa, xs), _mm256_set1_epi16(1)))
#define MINIGPT_KERNEL_BF16 1
#include "quant_x86.hpp"
#undef MINIGPT_KERNEL_NS
#undef MINIGPT_KERNEL_TARGET
#undef MINIGPT_KERNEL_DOT
#undef MINIGPT_KERNEL_BF16


// GCC 12's AVX-512 headers start some casts from an undefined register and warn about it
// wherever they are inlined (GCC bug 105593, fixed in 13): silenced for these kernels only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define MINIGPT_KERNEL_NS avx512_vnni
#define MINIGPT_KERNEL_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
#define MINIGPT_KERNEL_DOT(acc, wa, xs) acc = _mm256_dpbusd_epi32(acc, wa, xs)
#define MINIGPT_KERNEL_VNNI 1
#include "quant_x86.hpp"
#undef MINIGPT_KERNEL_NS
#undef MINIGPT_KERNEL_TARGET
#undef MINIGPT_KERNEL_DOT
#undef MINIGPT_KERNEL_VNNI
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

namespace minigpt {
namespace detail {

// y (N, W.rows), row n at y + n * ldy, = x (N, W.cols), row n at x + n * ldx, · Wᵀ + bias
// (bias may be null), with W's kernel. Groups of output rows are shared among the threads;
// every row of x passes over a group while it sits in the cache.
inline void packed_matmul(float* y, Index ldy, const float* x, Index ldx, Index N, const PackedMatrix& W,
                          const float* bias) {
  require_kernel(W.kernel, "packed_matmul");
  if (N <= 0) return;
  const SimdKernel k = W.kernel;
  if (W.format == WeightFormat::q8_0) {
    QuantizedRows xq;
    quantize_rows(xq, x, ldx, N, W.cols);
    // A few groups per task, so that a thread streams a contiguous stretch of W.
    const Index groups = W.groups(), per = 4, tasks = (groups + per - 1) / per;
    parallel_for(tasks, static_cast<double>(per * kQ8Rows * W.cols * N), [&](Index t) {
      const Index g0 = t * per, g1 = std::min(groups, g0 + per);
#if MINIGPT_QUANT_X86
      if (k == SimdKernel::avx512_vnni) return avx512_vnni::q8_0_groups(W, g0, g1, xq, N, y, ldy, bias);
      if (k == SimdKernel::avx2) return avx2::q8_0_groups(W, g0, g1, xq, N, y, ldy, bias);
#endif
      q8_0_groups_scalar(W, g0, g1, xq, N, y, ldy, bias);
    });
    return;
  }
  if (W.format != WeightFormat::bf16) throw ArgumentError("packed_matmul: the matrix holds no packed weights");
  const Index groups = W.groups(), per = 2, tasks = (groups + per - 1) / per;
  parallel_for(tasks, static_cast<double>(per * kBF16Rows * W.cols * N), [&](Index t) {
    const Index g0 = t * per, g1 = std::min(groups, g0 + per);
#if MINIGPT_QUANT_X86
    if (k != SimdKernel::scalar) return avx2::bf16_groups(W, g0, g1, x, ldx, N, y, ldy, bias);
#endif
    bf16_groups_scalar(W, g0, g1, x, ldx, N, y, ldy, bias);
  });
}

}  // namespace detail
}  // namespace minigpt
