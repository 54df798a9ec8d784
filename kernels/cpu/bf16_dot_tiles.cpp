#include "kernels/cpu/bf16_dot_tiles.h"

#include "kernels/cpu/simd.h"  // immintrin.h, without GCC 12's false warnings
#include "kernels/cpu/weight_streams.h"

#include "core/error.h"

// Compiled for AVX512-BF16 whatever the build's -march; only called where
// bf16_dot_supported().
#define SLKV_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

namespace slkv::cpu {
namespace {

// BF16 elements per 64-byte line: one vdpbf16ps per (row, token).
constexpr int64_t kLine = 32;
// Rows per tile and tokens per tile: 16 accumulators, 4 rows' lines and one
// token's line in 21 of the 32 vector registers. 4x4 measured ahead of 4x6,
// 2x8 and 8x2 at 4-64 tokens (125M-shaped model, AMD EPYC Zen 5).
constexpr int kRows = 4;
constexpr int kTokens = 4;
// A tile prefetches the rows this many tiles ahead, so their lines are in
// flight from memory before the tile reaches them.
constexpr int kPrefetchTiles = 2;

// The rows ahead, [begin, end) of R, that one token pass prefetches. The
// passes over a tile share its R rows out evenly, so that lines are asked
// for at a steady rate. When the first pass asked for all R rows it outran
// the memory system and stalled (one thread, 32000 x 768 BF16 from DRAM, 16
// tokens: 292 against 234-239 GFLOP/s).
struct PrefetchRows {
  int begin, end;
};

// A line of 16-bit elements from p; past `valid` elements (the row's tail)
// zeros, which add nothing to the dot products.
SLKV_BF16_TARGET inline __m512bh load_line(const uint16_t* p, int64_t valid) {
  if (valid >= kLine) return (__m512bh)_mm512_loadu_si512(p);
  return (__m512bh)_mm512_maskz_loadu_epi16(__mmask32((uint64_t{1} << valid) - 1), p);
}

// y[t * y_stride + r * y_row_step] = w[r * run_step] . x[t] for R rows, one
// from each of R streams, and T tokens.
template <int R, int T>
SLKV_BF16_TARGET inline void stream_tile(const uint16_t* w, int64_t cols, int64_t run_step, const uint16_t* x, float* y,
                                         int64_t y_stride, int64_t y_row_step) {
  constexpr int64_t kAhead = kStreamPrefetchBytes / int64_t(sizeof(uint16_t));
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  // One line of every row and token at column c; `valid` (at most kLine)
  // elements from c on are inside the rows. The full lines go without the
  // masks' tests, which cost bandwidth here.
  auto step = [&](int64_t c, int64_t valid) SLKV_BF16_TARGET {
    __m512bh tokens[T];
    for (int t = 0; t < T; ++t) tokens[t] = load_line(x + t * cols + c, valid);
    for (int r = 0; r < R; ++r) {
      const uint16_t* row = w + r * run_step;
      _mm_prefetch(reinterpret_cast<const char*>(row + c + kAhead), _MM_HINT_T0);
      const __m512bh line = load_line(row + c, valid);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], line, tokens[t]);
    }
  };
  int64_t c = 0;
  for (; c + kLine <= cols; c += kLine) step(c, kLine);
  if (c < cols) step(c, cols - c);
  simd::store_dot_sums(acc, y, y_stride, y_row_step);
}

// bf16_dot_rows for T (<= kStreamMaxTokens) tokens: kStreamRows streams.
template <int T>
SLKV_BF16_TARGET void rows_streamed(const uint16_t* x16, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                                    float* y) {
  const auto* weights = static_cast<const uint16_t*>(w.data);
  const int64_t cols = w.cols;
  for_row_runs<kStreamRows>(
      row_begin, row_end,
      [&](int64_t first_row, int64_t run_rows) {
        stream_tile<kStreamRows, T>(weights + first_row * cols, cols, run_rows * cols, x16, y + first_row, w.rows,
                                    run_rows);
      },
      [&](int64_t row) { stream_tile<1, T>(weights + row * cols, cols, cols, x16, y + row, w.rows, 1); });
}

// y[t * y_stride + r] = w[r] . x[t] for R rows and T tokens.
template <int R, int T>
SLKV_BF16_TARGET inline void tile(const uint16_t* w, int64_t cols, const uint16_t* x, float* y, int64_t y_stride,
                                  PrefetchRows prefetch) {
  const uint16_t* const ahead = w + kPrefetchTiles * R * cols;
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < cols; c += kLine) {
    const int64_t valid = cols - c;
    __m512bh rows[R];
    for (int r = prefetch.begin; r < prefetch.end; ++r)
      _mm_prefetch(reinterpret_cast<const char*>(ahead + r * cols + c), _MM_HINT_T0);
    for (int r = 0; r < R; ++r) rows[r] = load_line(w + r * cols + c, valid);
    for (int t = 0; t < T; ++t) {
      const __m512bh token = load_line(x + t * cols + c, valid);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], rows[r], token);
    }
  }
  simd::store_dot_sums(acc, y, y_stride);
}

// R rows for every token, kTokens at a time; the first pass finds the rows
// on their way from memory (prefetched by the tiles before), the later ones
// find them in L1. Front-loading the prefetches (a whole row in each of the
// first passes) was slower at 16 and 32 tokens than spreading them over all.
template <int R>
SLKV_BF16_TARGET void row_block(const uint16_t* w, int64_t cols, const uint16_t* x, int64_t n_tokens, float* y,
                                int64_t y_stride) {
  const int64_t passes = (n_tokens + kTokens - 1) / kTokens;
  auto prefetch_rows = [&](int64_t pass) {
    return PrefetchRows{int(pass * R / passes), int((pass + 1) * R / passes)};
  };
  int64_t t = 0;
  for (; t + kTokens <= n_tokens; t += kTokens)
    tile<R, kTokens>(w, cols, x + t * cols, y + t * y_stride, y_stride, prefetch_rows(t / kTokens));
  const PrefetchRows last = prefetch_rows(t / kTokens);
  switch (n_tokens - t) {
    case 3: tile<R, 3>(w, cols, x + t * cols, y + t * y_stride, y_stride, last); break;
    case 2: tile<R, 2>(w, cols, x + t * cols, y + t * y_stride, y_stride, last); break;
    case 1: tile<R, 1>(w, cols, x + t * cols, y + t * y_stride, y_stride, last); break;
    default: break;
  }
}

SLKV_BF16_TARGET void rows_tiled(const uint16_t* x16, int64_t n_tokens, const WeightMatrix& w, int64_t row_begin,
                                 int64_t row_end, float* y) {
  const auto* weights = static_cast<const uint16_t*>(w.data);
  int64_t r = row_begin;
  for (; r + kRows <= row_end; r += kRows) row_block<kRows>(weights + r * w.cols, w.cols, x16, n_tokens, y + r, w.rows);
  for (; r < row_end; ++r) row_block<1>(weights + r * w.cols, w.cols, x16, n_tokens, y + r, w.rows);
}

}  // namespace

bool bf16_dot_supported() {
  static const bool supported = __builtin_cpu_supports("avx512bf16");
  return supported;
}

void bf16_dot_rows(const uint16_t* x16, int64_t n_tokens, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                   float* y) {
  SLKV_CHECK(w.dtype == DType::BF16, "bf16_dot_rows needs BF16 weights, got " << dtype_name(w.dtype));
  SLKV_CHECK(bf16_dot_supported(), "bf16_dot_rows needs a CPU with AVX512-BF16");
  SLKV_CHECK(row_begin >= 0 && row_begin <= row_end && row_end <= w.rows,
             "rows [" << row_begin << ", " << row_end << ") of " << w.rows);
  if (n_tokens <= 0 || row_begin == row_end) return;
  static_assert(kStreamMaxTokens == 2);
  if (n_tokens == 1) return rows_streamed<1>(x16, w, row_begin, row_end, y);
  if (n_tokens == 2) return rows_streamed<2>(x16, w, row_begin, row_end, y);
  rows_tiled(x16, n_tokens, w, row_begin, row_end, y);
}

}  // namespace slkv::cpu
