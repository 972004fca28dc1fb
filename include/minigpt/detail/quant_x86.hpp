// minigpt/detail/quant_x86.hpp — the SIMD kernels of detail/quant.hpp, written once.
//
// No include guard: quant.hpp includes this file once per instruction set, each time with
//   MINIGPT_KERNEL_NS      the namespace (avx2, avx_vnni, avx512_vnni),
//   MINIGPT_KERNEL_TARGET  the function attribute naming the instructions it may use,
//   MINIGPT_KERNEL_DOT     acc += Σ over each 4 bytes of (unsigned) wa · (signed) xs, in 32-bit
//                          lanes: maddubs + madd with AVX2, one vpdpbusd with VNNI;
//   MINIGPT_KERNEL_BF16    defined for the one copy that also holds the bf16 kernel;
//   MINIGPT_KERNEL_VNNI    defined where the dot never saturates (vpdpbusd), for the
//                          several-rows tile below.
// (A function may only inline intrinsics of the instruction sets its own target names, so
// the same source is compiled under each target rather than shared through templates.)
//
// Q8_0, one group of 8 weight rows against R rows of x. One 32-byte load brings bytes
// 4k .. 4k+3 of a block for all 8 rows; x's 4 bytes are broadcast to every lane; so lane j
// sums row j's products and no horizontal sum is needed:
//     wa = |w|,  xs = x with w's sign (vpsignb),  |w| · xs = w · x   (|w| ≤ 128, |x| ≤ 127:
//     a pair of products stays below 2^15, so maddubs never saturates)
// After a block's 8 chunks, its int32 sums are scaled: acc = fma(d_w · d_x, float(sum), acc).
// bf16, one group of 16 rows (two registers) against R rows of x: widen, broadcast x_i, fma.

namespace minigpt {
namespace detail {
namespace MINIGPT_KERNEL_NS {

// y row n0+r, columns 8g .. 8g+7 (those < rows), from the lanes of acc, plus the bias.
MINIGPT_KERNEL_TARGET inline void store_rows(float* y, __m256 acc, Index first, Index rows, const float* bias) {
  if (first + 8 <= rows) {
    if (bias) acc = _mm256_add_ps(acc, _mm256_loadu_ps(bias + first));
    _mm256_storeu_ps(y + first, acc);
    return;
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (Index j = 0; first + j < rows; ++j) y[first + j] = bias ? lanes[j] + bias[first + j] : lanes[j];
}

template <int R>
MINIGPT_KERNEL_TARGET inline void q8_0_tile(const PackedMatrix& W, Index g, const QuantizedRows& x, Index n0, float* y,
                                            Index ldy, const float* bias) {
  const Index nb = W.blocks();
  const std::int8_t* wq = W.q8_group(g);
  const std::uint16_t* wd = W.q8_scales(g);
#ifdef MINIGPT_KERNEL_VNNI
  const std::uint8_t* xu[R];  // x + 128
#else
  const std::int8_t* xq[R];
#endif
  const float* xd[R];
  __m256 acc[R];
  for (int r = 0; r < R; ++r) {
#ifdef MINIGPT_KERNEL_VNNI
    xu[r] = x.us(n0 + r);
#else
    xq[r] = x.qs(n0 + r);
#endif
    xd[r] = x.scale(n0 + r);
    acc[r] = _mm256_setzero_ps();
  }
  for (Index b = 0; b < nb; ++b) {
    __m256i sum[R];
    for (int r = 0; r < R; ++r) sum[r] = _mm256_setzero_si256();
    const std::int8_t* wb = wq + b * 256;
#ifdef MINIGPT_KERNEL_VNNI
    // x + 128 (unsigned) against w (signed), with no sign or abs per row:
    //     Σ (x + 128)·w = Σ x·w + 128 Σ w,  and Σ w is one more dot (1 · w) shared by the R rows.
    // vpdpbusd does not saturate, so the int32 sums are exactly those of the loop below.
    __m256i wsum = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi8(1);
    for (int k = 0; k < 8; ++k) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 32 * k));
      wsum = _mm256_dpbusd_epi32(wsum, ones, w);
      for (int r = 0; r < R; ++r) {
        std::int32_t four;  // x + 128, stored so by quantize_rows: one broadcast load
        std::memcpy(&four, xu[r] + b * kQ8Block + 4 * k, 4);
        sum[r] = _mm256_dpbusd_epi32(sum[r], _mm256_set1_epi32(four), w);
      }
    }
    for (int r = 0; r < R; ++r) sum[r] = _mm256_sub_epi32(sum[r], _mm256_slli_epi32(wsum, 7));
#else
    for (int k = 0; k < 8; ++k) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 32 * k));
      const __m256i wa = _mm256_abs_epi8(w);
      for (int r = 0; r < R; ++r) {
        std::int32_t four;
        std::memcpy(&four, xq[r] + b * kQ8Block + 4 * k, 4);
        const __m256i xs = _mm256_sign_epi8(_mm256_set1_epi32(four), w);
        MINIGPT_KERNEL_DOT(sum[r], wa, xs);
      }
    }
#endif
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wd + b * kQ8Rows)));
    for (int r = 0; r < R; ++r) {
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(xd[r][b]));
      acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum[r]), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) store_rows(y + (n0 + r) * ldy, acc[r], g * kQ8Rows, W.rows, bias);
}

// Decoding (one row of x): G groups at a time, each block's 8 chunks summed in two chains
// (even and odd k), so that 2G independent chains of dot products are in flight instead of
// one; the int32 sums, and so the result, are those of q8_0_tile<1>, bit for bit.
template <int G>
MINIGPT_KERNEL_TARGET inline void q8_0_tile_row(const PackedMatrix& W, Index g, const QuantizedRows& x, float* y,
                                                const float* bias) {
  const Index nb = W.blocks();
  const std::int8_t* xq = x.qs(0);
  const float* xd = x.scale(0);
  const std::int8_t* wq[G];
  const std::uint16_t* wd[G];
  __m256 acc[G];
  for (int j = 0; j < G; ++j) {
    wq[j] = W.q8_group(g + j);
    wd[j] = W.q8_scales(g + j);
    acc[j] = _mm256_setzero_ps();
  }
  for (Index b = 0; b < nb; ++b) {
    __m256i sum[G][2];
    for (int j = 0; j < G; ++j) sum[j][0] = sum[j][1] = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      std::int32_t four;
      std::memcpy(&four, xq + b * kQ8Block + 4 * k, 4);
      const __m256i xk = _mm256_set1_epi32(four);
      for (int j = 0; j < G; ++j) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq[j] + b * 256 + 32 * k));
        MINIGPT_KERNEL_DOT(sum[j][k & 1], _mm256_abs_epi8(w), _mm256_sign_epi8(xk, w));
      }
    }
    const __m256 dx = _mm256_set1_ps(xd[b]);
    for (int j = 0; j < G; ++j) {
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wd[j] + b * kQ8Rows)));
      const __m256i s = _mm256_add_epi32(sum[j][0], sum[j][1]);
      acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(s), acc[j]);
    }
  }
  for (int j = 0; j < G; ++j) store_rows(y, acc[j], (g + j) * kQ8Rows, W.rows, bias);
}

// Groups g0 .. g1-1 of W against all N rows of x, four rows of x at a time.
MINIGPT_KERNEL_TARGET inline void q8_0_groups(const PackedMatrix& W, Index g0, Index g1, const QuantizedRows& x,
                                              Index N, float* y, Index ldy, const float* bias) {
  if (N == 1) {
    Index g = g0;
    for (; g + 2 <= g1; g += 2) q8_0_tile_row<2>(W, g, x, y, bias);
    if (g < g1) q8_0_tile_row<1>(W, g, x, y, bias);
    return;
  }
  for (Index g = g0; g < g1; ++g) {
    Index n = 0;
#ifdef MINIGPT_KERNEL_VNNI
    // 8 rows of x against each load of w (AVX-512 has the 32 registers the tile needs).
    for (; n + 8 <= N; n += 8) q8_0_tile<8>(W, g, x, n, y, ldy, bias);
#endif
    for (; n + 4 <= N; n += 4) q8_0_tile<4>(W, g, x, n, y, ldy, bias);
    switch (N - n) {
      case 3: q8_0_tile<3>(W, g, x, n, y, ldy, bias); break;
      case 2: q8_0_tile<2>(W, g, x, n, y, ldy, bias); break;
      case 1: q8_0_tile<1>(W, g, x, n, y, ldy, bias); break;
      default: break;
    }
  }
}

#ifdef MINIGPT_KERNEL_BF16
// G groups of 16 rows (g .. g+G-1) against R rows of x.
template <int R, int G>
MINIGPT_KERNEL_TARGET inline void bf16_tile(const PackedMatrix& W, Index g, const float* x, Index ldx, Index n0, float* y,
                                            Index ldy, const float* bias) {
  const Index cols = W.cols;
  const std::uint16_t* wg[G];
  __m256 acc[R][G][2];
  for (int j = 0; j < G; ++j) wg[j] = W.bf16_group(g + j);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < G; ++j) acc[r][j][0] = acc[r][j][1] = _mm256_setzero_ps();
  const __m256i zero = _mm256_setzero_si256();
  for (Index i = 0; i < cols; ++i) {
    __m256 lo[G], hi[G];
    for (int j = 0; j < G; ++j) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg[j] + i * kBF16Rows));
      lo[j] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v));  // rows 0..7: bf16 << 16 is the f32
      hi[j] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v));  // rows 8..15
    }
    for (int r = 0; r < R; ++r) {
      const __m256 xi = _mm256_set1_ps(x[(n0 + r) * ldx + i]);
      for (int j = 0; j < G; ++j) {
        acc[r][j][0] = _mm256_fmadd_ps(lo[j], xi, acc[r][j][0]);
        acc[r][j][1] = _mm256_fmadd_ps(hi[j], xi, acc[r][j][1]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < G; ++j) {
      float* yr = y + (n0 + r) * ldy;
      store_rows(yr, acc[r][j][0], (g + j) * kBF16Rows, W.rows, bias);
      store_rows(yr, acc[r][j][1], (g + j) * kBF16Rows + 8, W.rows, bias);
    }
}

// Groups g0 .. g1-1 against all N rows of x. One row of x (decoding) takes two groups at a
// time, so that four independent chains of fma are in flight.
MINIGPT_KERNEL_TARGET inline void bf16_groups(const PackedMatrix& W, Index g0, Index g1, const float* x, Index ldx,
                                              Index N, float* y, Index ldy, const float* bias) {
  Index g = g0;
  if (N == 1) {
    for (; g + 2 <= g1; g += 2) bf16_tile<1, 2>(W, g, x, ldx, 0, y, ldy, bias);
    if (g < g1) bf16_tile<1, 1>(W, g, x, ldx, 0, y, ldy, bias);
    return;
  }
  for (; g < g1; ++g) {
    Index n = 0;
    for (; n + 4 <= N; n += 4) bf16_tile<4, 1>(W, g, x, ldx, n, y, ldy, bias);
    switch (N - n) {
      case 3: bf16_tile<3, 1>(W, g, x, ldx, n, y, ldy, bias); break;
      case 2: bf16_tile<2, 1>(W, g, x, ldx, n, y, ldy, bias); break;
      case 1: bf16_tile<1, 1>(W, g, x, ldx, n, y, ldy, bias); break;
      default: break;
    }
  }
}
#endif

}  // namespace MINIGPT_KERNEL_NS
}  // namespace detail
}  // namespace minigpt
