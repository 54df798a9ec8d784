#pragma once
// AVX-512 helpers shared by the CPU kernels: loads that widen F32/F16/BF16
// elements into 16 fp32 lanes (full and masked-tail variants), tail masks and
// a vector exp. Every kernel computes in fp32.
// GCC 12 warns inside its own AVX-512 headers (the self-initialised
// _mm512_undefined_* values, GCC bug 105593) wherever they are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>
#include <type_traits>

#include "core/dtype.h"

namespace slkv::simd {

constexpr int64_t kLanes = 16;  // fp32 lanes in a __m512

// The storage element of a weight dtype: float, or the raw 16 bits of f16/bf16.
template <DType D>
using Elem = std::conditional_t<D == DType::F32, float, uint16_t>;

// Mask selecting the first n (< 16) lanes, for the tail of a row.
inline __mmask16 tail_mask(int64_t n) { return __mmask16((1u << n) - 1u); }

// 16 consecutive elements widened to fp32.
template <DType D>
inline __m512 load(const Elem<D>* p) {
  if constexpr (D == DType::F32) {
    return _mm512_loadu_ps(p);
  } else if constexpr (D == DType::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
    // bf16 is the top half of an fp32: zero-extend to 32 bits, shift left 16.
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
}

// The first lanes selected by `mask` widened to fp32, other lanes zero. Does
// not touch memory past the selected elements.
template <DType D>
inline __m512 load_masked(const Elem<D>* p, __mmask16 mask) {
  if constexpr (D == DType::F32) {
    return _mm512_maskz_loadu_ps(mask, p);
  } else if constexpr (D == DType::F16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
  } else {
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
}

// Mask selecting the first n (< 32) 16-bit elements of a 64-byte line.
inline __mmask32 tail_mask32(int64_t n) { return __mmask32((1u << n) - 1u); }

// 32 consecutive elements (one 64-byte line of 16-bit weights) widened to two
// fp32 vectors with a single load. F32 and F16 give elements 0..15 in `lo`
// and 16..31 in `hi`; BF16 gives the even-indexed elements in `lo` and the
// odd-indexed ones in `hi` (each bf16 is one half of a 32-bit lane, so a
// shift or a mask widens it in place), to be paired with x split the same
// way (split_even_odd).
template <DType D>
inline void load_pair(const Elem<D>* p, __m512& lo, __m512& hi) {
  if constexpr (D == DType::F32) {
    lo = _mm512_loadu_ps(p);
    hi = _mm512_loadu_ps(p + kLanes);
  } else if constexpr (D == DType::F16) {
    const __m512i v = _mm512_loadu_si512(p);
    lo = _mm512_cvtph_ps(_mm512_castsi512_si256(v));
    hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(v, 1));
  } else {
    const __m512i v = _mm512_loadu_si512(p);
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    hi = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(0xffff0000u))));
  }
}

// load_pair of the elements selected by `mask` (others zero), touching no
// memory past them.
template <DType D>
inline void load_pair_masked(const Elem<D>* p, __mmask32 mask, __m512& lo, __m512& hi) {
  if constexpr (D == DType::F32) {
    lo = _mm512_maskz_loadu_ps(__mmask16(mask), p);
    hi = _mm512_maskz_loadu_ps(__mmask16(mask >> 16), p + kLanes);
  } else if constexpr (D == DType::F16) {
    const __m512i v = _mm512_maskz_loadu_epi16(mask, p);
    lo = _mm512_cvtph_ps(_mm512_castsi512_si256(v));
    hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(v, 1));
  } else {
    const __m512i v = _mm512_maskz_loadu_epi16(mask, p);
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    hi = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(0xffff0000u))));
  }
}

// The x layout load_pair<BF16> pairs with: for every 32 elements of in, the
// 16 even-indexed ones then the 16 odd-indexed ones. n_out (a multiple of 32,
// >= n) elements are written; those past n are zero.
inline void split_even_odd(const float* in, int64_t n, int64_t n_out, float* out) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t i = 0; i < n_out; i += 2 * kLanes) {
    const int64_t left = n - i;
    const __mmask16 m0 = left >= kLanes ? __mmask16(0xffff) : left > 0 ? tail_mask(left) : __mmask16(0);
    const __mmask16 m1 = left >= 2 * kLanes ? __mmask16(0xffff) : left > kLanes ? tail_mask(left - kLanes) : __mmask16(0);
    const __m512 a = _mm512_maskz_loadu_ps(m0, in + i);
    const __m512 b = _mm512_maskz_loadu_ps(m1, in + i + kLanes);
    _mm512_storeu_ps(out + i, _mm512_permutex2var_ps(a, even, b));
    _mm512_storeu_ps(out + i + kLanes, _mm512_permutex2var_ps(a, odd, b));
  }
}

// out[i] = in[i] widened to fp32 for i < n.
template <DType D>
inline void widen(const Elem<D>* in, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(out + i, load<D>(in + i));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, mask, load_masked<D>(in + i, mask));
  }
}

// 16 lanes rounded to D's 16 bits, nearest even (float_to_bf16 and
// float_to_f16 exactly; a NaN stays a quiet NaN).
template <DType D>
inline __m256i round_to(__m512 v) {
  static_assert(D != DType::F32);
  if constexpr (D == DType::BF16) {
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
  } else {
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
}

// out[i] = in[i] rounded to D for i < n (widen's inverse).
template <DType D>
inline void narrow(const float* in, int64_t n, Elem<D>* out) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), round_to<D>(_mm512_loadu_ps(in + i)));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    _mm256_mask_storeu_epi16(out + i, mask, round_to<D>(_mm512_maskz_loadu_ps(mask, in + i)));
  }
}

// e^x for every lane, relative error ~2e-7 (Cephes expf polynomial). Inputs
// below -104 give 0 and above 89 give +inf, like std::exp in float.
inline __m512 exp(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693359375f);  // ln2 split so n*ln2_hi is exact
  const __m512 ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.f)), _mm512_set1_ps(-104.f));
  // x = n*ln2 + r with |r| <= ln2/2, then e^x = 2^n * e^r.
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
  r = _mm512_fnmadd_ps(n, ln2_lo, r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);  // scalef under/overflows to 0/inf cleanly
}

// sum a[i] * b[i] over n fp32 elements (any n: the tail is masked).
inline float dot(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// Lane j of the result = the sum of the 16 lanes of d[j]: a 16x16 transpose
// folded into the additions (30 shuffles and 15 adds for 16 sums).
inline __m512 sum_lanes_16(const __m512 d[16]) {
  // Pairs: lanes (4c + {0,1,2,3}) of t[i] hold 128-bit chunk c's partial sums
  // of d[2i] (lanes 0, 2) and d[2i + 1] (lanes 1, 3).
  __m512 t[8];
  for (int i = 0; i < 8; ++i)
    t[i] = _mm512_add_ps(_mm512_unpacklo_ps(d[2 * i], d[2 * i + 1]), _mm512_unpackhi_ps(d[2 * i], d[2 * i + 1]));
  // Quads: lane 4c + m of u[i] = chunk c's sum of d[4i + m].
  __m512 u[4];
  for (int i = 0; i < 4; ++i)
    u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Add the four chunks while moving u[i]'s sums to chunk i.
  const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// y[t * y_stride + r * y_row_step] = the sum of acc[r][t]'s lanes: the dot
// products of a GEMV tile of R rows and T tokens. With 16 accumulators, one
// transposing reduction: 45 shuffles and adds instead of 16 horizontal sums
// of 8 each (BF16 register tiles at 16 tokens, 125M-shaped step: 10.0-10.4
// -> 9.5-9.7 ms; the memory-bound F32 GEMV tiles level).
template <int R, int T>
inline void store_dot_sums(const __m512 (&acc)[R][T], float* y, int64_t y_stride, int64_t y_row_step = 1) {
  if constexpr (R * T == 16) {
    alignas(64) float sums[16];
    _mm512_store_ps(sums, sum_lanes_16(&acc[0][0]));
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) y[t * y_stride + r * y_row_step] = sums[r * T + t];
  } else {
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) y[t * y_stride + r * y_row_step] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

}  // namespace slkv::simd
