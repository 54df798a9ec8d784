#include "kernels/cpu/matmul.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/cpu/bf16_dot_tiles.h"
#include "kernels/cpu/onednn_matmul.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/weight_streams.h"
#include "core/error.h"

namespace slkv::cpu {
namespace {

using simd::Elem;
using simd::kLanes;

// Below this many weight bytes a matrix is cache-resident and takes a few
// microseconds at most: one thread, since an OpenMP fork/join costs about as
// much (stories260K, dim 64, runs ~40 such matmuls per token).
constexpr int64_t kMinParallelBytes = 256 * 1024;
// Likewise below this many multiply-adds a GEMM takes ~20 microseconds.
constexpr int64_t kMinParallelGemmMacs = 2 * 1024 * 1024;

// Threads split rows in multiples of this, so no two threads write the same
// 64-byte line of y.
constexpr int64_t kRowAlign = 16;

// Columns per GEMV step: one 64-byte line of a 16-bit weight row, widened by
// one load_pair. A full line per load keeps as many lines in flight per
// instruction as the F32 kernel has (half-line loads measured 20-30% less
// bandwidth on 16-bit weights).
constexpr int64_t kStep = 2 * kLanes;

// The GEMV's copy of x: each token's row padded with zeros to a multiple of
// kStep and, for BF16, split into even/odd halves per step (load_pair's
// layout). Built once per call; tiny next to the weights.
struct GemvInput {
  const float* data;
  int64_t stride;  // floats between tokens
};

// n elements of `buffer` starting on a 64-byte line (the buffer grows by a
// line to make room): vectors are only 16-byte aligned, and a 64-byte load
// that straddles two lines costs two.
template <typename T>
T* line_aligned(std::vector<T>& buffer, size_t n) {
  constexpr size_t kLineElements = 64 / sizeof(T);
  buffer.resize(n + kLineElements);
  const size_t misaligned = reinterpret_cast<uintptr_t>(buffer.data()) % 64 / sizeof(T);
  return buffer.data() + (misaligned ? kLineElements - misaligned : 0);
}

// The copy starts on a 64-byte line, so that every 64-byte load of x is one
// line: the vector's own 16-byte alignment made each load straddle two lines,
// which held the 4x4 tiles at 16 tokens to 46.6 ms per 125M-model step
// against 28.9 (kernels_bench DecodeBatchPath, F32).
template <DType D>
GemvInput prepare_input(const float* x, int64_t n_tokens, int64_t cols, std::vector<float>& buffer) {
  const int64_t stride = (cols + kStep - 1) / kStep * kStep;
  float* const base = line_aligned(buffer, size_t(n_tokens * stride));
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* out = base + t * stride;
    if constexpr (D == DType::BF16) {
      simd::split_even_odd(x + t * cols, cols, stride, out);
    } else {
      std::copy(x + t * cols, x + (t + 1) * cols, out);
      std::fill(out + cols, out + stride, 0.f);
    }
  }
  return {base, stride};
}

// Where a tile's R rows lie: row_step elements apart in W, y_row_step apart
// in y; each row prefetches the line prefetch_ahead elements on in its
// stream (past the row's end, that is the next row of its run).
struct RowBlock {
  int64_t cols, row_step, y_row_step, prefetch_ahead;
};

// How far ahead the rows prefetch. At one or two tokens a product is one
// pass over W at the memory's pace, and a row asks for the line
// kStreamPrefetchBytes on. With more tokens a tile computes longer on each
// line, and from five tokens on reads its rows in several token passes: a
// row asks for the line two rows on, so memory streams the next rows while
// the tile computes (1 KiB ahead left memory idle there: F32, 125M-shaped
// step, 14.2-14.5 against 12.3-12.9 ms at 4 tokens, 25.8-28.3 against 18 at
// 8).
template <DType D>
int64_t prefetch_ahead(int64_t cols, int64_t n_tokens) {
  return n_tokens <= kStreamMaxTokens ? kStreamPrefetchBytes / int64_t(sizeof(Elem<D>)) : 2 * cols;
}

// y[t * y_stride + r * y_row_step] = W[r] . x[t] for R rows, row r starting
// at w + r * rows.row_step, and T tokens: one pass over the R weight rows,
// R*T independent FMA chains.
template <DType D, int R, int T>
inline void gemv_tile(const Elem<D>* w, RowBlock rows, const float* x, int64_t x_stride, float* y, int64_t y_stride) {
  const int64_t cols = rows.cols, row_step = rows.row_step;
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();

  auto step = [&](int64_t c, auto load_weights, bool prefetch) {
    __m512 x_lo[T], x_hi[T];
    for (int t = 0; t < T; ++t) {
      x_lo[t] = _mm512_loadu_ps(x + t * x_stride + c);
      x_hi[t] = _mm512_loadu_ps(x + t * x_stride + c + kLanes);
    }
    for (int r = 0; r < R; ++r) {
      __m512 w_lo, w_hi;
      if (prefetch)
        _mm_prefetch(reinterpret_cast<const char*>(w + r * row_step + c + rows.prefetch_ahead), _MM_HINT_T0);
      load_weights(w + r * row_step + c, w_lo, w_hi);
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm512_fmadd_ps(w_lo, x_lo[t], acc[r][t]);
        acc[r][t] = _mm512_fmadd_ps(w_hi, x_hi[t], acc[r][t]);
      }
    }
  };
  int64_t c = 0;
  for (; c + kStep <= cols; c += kStep)
    step(c, [](const Elem<D>* p, __m512& lo, __m512& hi) { simd::load_pair<D>(p, lo, hi); }, true);
  if (c < cols) {  // masked tail: cols need not be a multiple of 32 (x is zero-padded)
    const __mmask32 mask = simd::tail_mask32(cols - c);
    step(c, [mask](const Elem<D>* p, __m512& lo, __m512& hi) { simd::load_pair_masked<D>(p, mask, lo, hi); }, false);
  }

  simd::store_dot_sums(acc, y, y_stride, rows.y_row_step);
}

// R rows for every token, T tokens per pass (fewer for the last pass). The
// rows come from memory in the first pass; later passes find them in cache.
template <DType D, int R, int T>
void gemv_row_block(const Elem<D>* w, RowBlock rows, GemvInput x, int64_t n_tokens, float* y, int64_t y_stride) {
  int64_t t = 0;
  for (; t + T <= n_tokens; t += T)
    gemv_tile<D, R, T>(w, rows, x.data + t * x.stride, x.stride, y + t * y_stride, y_stride);
  if constexpr (T > 1) {
    if (t < n_tokens)
      gemv_row_block<D, R, T - 1>(w, rows, {x.data + t * x.stride, x.stride}, n_tokens - t, y + t * y_stride, y_stride);
  }
}

// Rows [row_begin, row_end) of y for every token, R rows at a time, as R
// long weight streams (for_row_runs).
template <DType D, int R, int T>
void gemv_rows_tiled(GemvInput x, int64_t n_tokens, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                     float* y) {
  const auto* weights = static_cast<const Elem<D>*>(w.data);
  const int64_t cols = w.cols;
  const int64_t ahead = prefetch_ahead<D>(cols, n_tokens);
  for_row_runs<R>(
      row_begin, row_end,
      [&](int64_t first_row, int64_t run_rows) {
        gemv_row_block<D, R, T>(weights + first_row * cols, {cols, run_rows * cols, run_rows, ahead}, x, n_tokens,
                                y + first_row, w.rows);
      },
      [&](int64_t row) {
        gemv_row_block<D, 1, T>(weights + row * cols, {cols, cols, 1, ahead}, x, n_tokens, y + row, w.rows);
      });
}

// Tile shapes keep R*T accumulators at 16 of the 32 vector registers: up to
// two tokens, kStreamRows rows; with more tokens, four rows leave room for
// four tokens' accumulators.
template <DType D>
void gemv_rows(GemvInput x, int64_t n_tokens, const WeightMatrix& w, int64_t row_begin, int64_t row_end, float* y) {
  if (n_tokens <= kStreamMaxTokens)
    gemv_rows_tiled<D, kStreamRows, kStreamMaxTokens>(x, n_tokens, w, row_begin, row_end, y);
  else
    gemv_rows_tiled<D, 4, 4>(x, n_tokens, w, row_begin, row_end, y);
}

// The share [begin, end) of `rows` that thread `index` of `count` handles.
struct RowRange {
  int64_t begin, end;
};
RowRange thread_rows(int64_t rows, int index, int count) {
  const int64_t units = (rows + kRowAlign - 1) / kRowAlign;
  return {std::min(rows, units * index / count * kRowAlign), std::min(rows, units * (index + 1) / count * kRowAlign)};
}

// Threads worth using: never more than there are row units to share.
int threads_for_rows(const WeightMatrix& w, int n_threads) {
  return int(std::clamp<int64_t>((w.rows + kRowAlign - 1) / kRowAlign, 1, n_threads));
}

// Rows of a 16-bit W widened per oneDNN call: a panel this size (fp32) stays in
// L2 between widening and oneDNN packing it.
constexpr int64_t kPanelBytes = 512 * 1024;

// The rows [row_begin, row_end) of w as a matrix of their own.
WeightMatrix row_slice(const WeightMatrix& w, int64_t row_begin, int64_t row_end) {
  const auto* data = static_cast<const uint8_t*>(w.data) + size_t(row_begin * w.cols) * dtype_size(w.dtype);
  return {data, w.dtype, row_end - row_begin, w.cols};
}

// y[:, row_begin:row_end] for every token with x in fp32, single-threaded:
// F32 weights as they are, 16-bit ones widened to fp32 a panel at a time.
template <DType D>
void gemm_rows_fp32(const float* x, int64_t n_tokens, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                    float* y) {
  if constexpr (D == DType::F32) {
    onednn_matmul(x, n_tokens, row_slice(w, row_begin, row_end), y + row_begin, w.rows);
  } else {
    const auto* weights = static_cast<const Elem<D>*>(w.data);
    const int64_t panel_rows = std::max<int64_t>(kRowAlign, kPanelBytes / int64_t(sizeof(float) * w.cols));
    thread_local std::vector<float> panel;  // per OpenMP worker, reused across calls
    panel.resize(size_t(std::min(panel_rows, row_end - row_begin) * w.cols));
    for (int64_t r = row_begin; r < row_end; r += panel_rows) {
      const int64_t n_rows = std::min(panel_rows, row_end - r);
      simd::widen<D>(weights + r * w.cols, n_rows * w.cols, panel.data());
      onednn_matmul(x, n_tokens, {panel.data(), DType::F32, n_rows, w.cols}, y + r, w.rows);
    }
  }
}

void gemm_rows_any(const float* x, int64_t n_tokens, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                   float* y) {
  switch (w.dtype) {
    case DType::F32:
      gemm_rows_fp32<DType::F32>(x, n_tokens, w, row_begin, row_end, y);
      break;
    case DType::F16:
      gemm_rows_fp32<DType::F16>(x, n_tokens, w, row_begin, row_end, y);
      break;
    case DType::BF16:
      gemm_rows_fp32<DType::BF16>(x, n_tokens, w, row_begin, row_end, y);
      break;
  }
}

void check_shape(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) {
  SLKV_CHECK(w.data && x && y, "matmul with a null pointer");
  SLKV_CHECK(n_tokens >= 0 && w.rows >= 0 && w.cols >= 0,
             "matmul shape " << n_tokens << " x [" << w.rows << ", " << w.cols << "]");
}

// A matrix small enough to stay in cache: its product takes a few
// microseconds, about what an OpenMP fork/join costs.
bool cache_resident(const WeightMatrix& w) {
  return w.rows * w.cols * static_cast<int64_t>(dtype_size(w.dtype)) < kMinParallelBytes;
}

// The last rows of every output, from a fraction of its rows on, go to
// whichever thread is free first, in chunks of kTailChunkRows: a thread
// slowed down (an interrupt, another guest on the host) then no longer holds
// the others at the region's end barrier. A chunk is a multiple of
// kRowAlign rows, long enough for the tiles' streams (64 rows: 8 per
// stream).
constexpr int64_t kTailChunkRows = 64;
constexpr int64_t kTailFractionDivisor = 8;  // the last 1/8 of the rows

// How many tail chunks an output has, and where its statically split rows
// end and they begin.
int64_t tail_chunks(const WeightMatrix& w, int threads) {
  return threads <= 1 ? 0 : w.rows / kTailFractionDivisor / kTailChunkRows;
}
int64_t tail_begin(const WeightMatrix& w, int threads) { return w.rows - tail_chunks(w, threads) * kTailChunkRows; }

// Runs rows_fn(output, row_begin, row_end) over all rows of every output on
// `threads` threads. Several outputs (q/k/v, gate/up) share one parallel
// region: each thread takes its share of every matrix's rows in turn, then
// tail chunks until none is left, and the threads meet once at the end,
// where one region per matrix made them meet at each (a thread that
// finishes its half early spins at the barrier: 10 % of a 1.26B F32 decode
// profile).
template <typename RowsFn>
void for_output_rows(std::span<const MatmulOutput> outputs, int threads, RowsFn rows_fn) {
  int64_t n_chunks = 0;
  for (const MatmulOutput& output : outputs) n_chunks += tail_chunks(output.weights, threads);
  std::atomic<int64_t> next_chunk{0};
  auto run = [&](int index, int count) {
    for (const MatmulOutput& output : outputs) {
      const RowRange range = thread_rows(tail_begin(output.weights, threads), index, count);
      if (range.end > range.begin) rows_fn(output, range.begin, range.end);
    }
    // Then tail chunks, numbered across the outputs in order, until none is left.
    for (int64_t chunk = next_chunk++; chunk < n_chunks; chunk = next_chunk++) {
      int64_t index = chunk;
      for (const MatmulOutput& output : outputs) {
        const int64_t chunks = tail_chunks(output.weights, threads);
        if (index < chunks) {
          const int64_t first = tail_begin(output.weights, threads) + index * kTailChunkRows;
          rows_fn(output, first, first + kTailChunkRows);
          break;
        }
        index -= chunks;
      }
    }
  };
  if (threads <= 1) return run(0, 1);
#pragma omp parallel num_threads(threads)
  run(omp_get_thread_num(), omp_get_num_threads());
}

// The GEMV of every output, all with D weights of the same columns (one x).
// A cache-resident matrix keeps the whole call on one thread.
template <DType D>
void gemv_outputs_typed(const float* x, int64_t n_tokens, std::span<const MatmulOutput> outputs, int n_threads) {
  if (n_tokens == 0) return;
  thread_local std::vector<float> buffer;  // reused across calls
  const GemvInput input = prepare_input<D>(x, n_tokens, outputs.front().weights.cols, buffer);
  int threads = n_threads;
  for (const MatmulOutput& output : outputs)
    threads = std::min(threads, cache_resident(output.weights) ? 1 : threads_for_rows(output.weights, n_threads));
  for_output_rows(outputs, threads, [&](const MatmulOutput& output, int64_t row_begin, int64_t row_end) {
    gemv_rows<D>(input, n_tokens, output.weights, row_begin, row_end, output.y);
  });
}

void gemv_outputs(const float* x, int64_t n_tokens, std::span<const MatmulOutput> outputs, int n_threads) {
  switch (outputs.front().weights.dtype) {
    case DType::F32:
      return gemv_outputs_typed<DType::F32>(x, n_tokens, outputs, n_threads);
    case DType::F16:
      return gemv_outputs_typed<DType::F16>(x, n_tokens, outputs, n_threads);
    case DType::BF16:
      return gemv_outputs_typed<DType::BF16>(x, n_tokens, outputs, n_threads);
  }
}

}  // namespace

int gemv_streams() { return kStreamRows; }

void gemv(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads) {
  check_shape(x, n_tokens, w, y);
  const MatmulOutput output{w, y};
  gemv_outputs(x, n_tokens, {&output, 1}, n_threads);
}

namespace {

// Threads worth using for a product of n_tokens by W: one for a tiny one,
// whose work costs about what a fork/join does.
int product_threads(int64_t n_tokens, const WeightMatrix& w, int n_threads) {
  return w.rows * w.cols * n_tokens < kMinParallelGemmMacs ? 1 : threads_for_rows(w, n_threads);
}

// Runs rows_fn(range) for W's rows split across threads, with oneDNN held to
// one thread inside each: slices measured faster than one multi-threaded
// oneDNN call over all rows, and the 16-bit widening runs in parallel too.
template <typename RowsFn>
void for_row_slices(int64_t n_tokens, const WeightMatrix& w, int n_threads, RowsFn rows_fn) {
  const int threads = product_threads(n_tokens, w, n_threads);
#pragma omp parallel num_threads(threads)
  {
    // oneDNN forks omp_get_max_threads() threads unless it is inside an
    // active parallel region; a one-thread team is not, so say 1 explicitly
    // (this task's setting only, gone when the region ends).
    omp_set_num_threads(1);
    const RowRange range = thread_rows(w.rows, omp_get_thread_num(), omp_get_num_threads());
    if (range.end > range.begin) rows_fn(range);
  }
}

// The prefill shapes gemm() handles without calling oneDNN: nothing to
// compute, or zero columns (y = 0). True when y is already done.
bool trivial_gemm(int64_t n_tokens, const WeightMatrix& w, float* y) {
  if (n_tokens == 0 || w.rows == 0) return true;
  if (w.cols == 0) {
    std::fill(y, y + n_tokens * w.rows, 0.f);
    return true;
  }
  return false;
}

// x [n_tokens, cols] rounded to dtype into the calling thread's buffer,
// valid until its next call on that thread. It starts on a 64-byte line, so
// rows whose size is a multiple of 64 bytes are read one line per load.
const uint16_t* rounded_input(const float* x, int64_t n_tokens, int64_t cols, DType dtype) {
  thread_local std::vector<uint16_t> x16;
  uint16_t* const base = line_aligned(x16, size_t(n_tokens * cols));
  round_to_16bit(dtype, x, n_tokens * cols, base);
  return base;
}

// The batched-decode path for BF16 weights on CPUs with AVX512-BF16, given
// x already rounded to BF16: register tiles, scheduled as the GEMV's are
// (one region for all outputs, tail chunks). All outputs have x's columns.
void bf16_tiles(const uint16_t* x16, int64_t n_tokens, std::span<const MatmulOutput> outputs, int n_threads) {
  int threads = n_threads;
  // At one or two tokens the work is reading W (more than kMinParallelBytes:
  // choose_path), which two threads do faster, however few multiply-adds.
  for (const MatmulOutput& output : outputs) {
    const int wanted = n_tokens <= kStreamMaxTokens ? threads_for_rows(output.weights, n_threads)
                                                    : product_threads(n_tokens, output.weights, n_threads);
    threads = std::min(threads, wanted);
  }
  for_output_rows(outputs, threads, [&](const MatmulOutput& output, int64_t row_begin, int64_t row_end) {
    bf16_dot_rows(x16, n_tokens, output.weights, row_begin, row_end, output.y);
  });
}

// gemm() for 16-bit weights given x already rounded to w.dtype.
void gemm_native_16bit(const uint16_t* x16, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads) {
  for_row_slices(n_tokens, w, n_threads, [&](RowRange range) {
    onednn_matmul(x16, n_tokens, row_slice(w, range.begin, range.end), y + range.begin, w.rows);
  });
}

// How matmul() computes a product: the decode kernel, a GEMM in fp32, a
// GEMM with x rounded to 16 bits, or the BF16 register tiles (x rounded too).
enum class MatmulPath { kGemv, kGemmFp32, kGemmNative16, kBf16Tiles };

MatmulPath choose_path(int64_t n_tokens, const WeightMatrix& w) {
  // A cache-resident matrix stays on the GEMV tiles whatever the token count:
  // its work is microseconds, less than oneDNN's first-call JIT per shape.
  if (cache_resident(w) || w.cols == 0) return MatmulPath::kGemv;
  if (w.dtype == DType::BF16 && n_tokens <= kBf16TilesMaxTokens && bf16_dot_supported()) return MatmulPath::kBf16Tiles;
  if (w.dtype != DType::F32 && !onednn_native_16bit(w.dtype))  // widening W costs a pass over it first
    return n_tokens < kGemmWidenedMinTokens ? MatmulPath::kGemv : MatmulPath::kGemmFp32;
  if (n_tokens < (w.dtype == DType::F32 ? kGemmMinTokensF32 : kGemmMinTokens)) return MatmulPath::kGemv;
  return w.dtype == DType::F32 ? MatmulPath::kGemmFp32 : MatmulPath::kGemmNative16;
}

}  // namespace

void gemm_widened(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads) {
  check_shape(x, n_tokens, w, y);
  if (trivial_gemm(n_tokens, w, y)) return;
  for_row_slices(n_tokens, w, n_threads,
                 [&](RowRange range) { gemm_rows_any(x, n_tokens, w, range.begin, range.end, y); });
}

void gemm(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads) {
  if (!onednn_native_16bit(w.dtype)) return gemm_widened(x, n_tokens, w, y, n_threads);
  check_shape(x, n_tokens, w, y);
  if (trivial_gemm(n_tokens, w, y)) return;
  gemm_native_16bit(rounded_input(x, n_tokens, w.cols, w.dtype), n_tokens, w, y, n_threads);
}

namespace {

// The path every output of a group takes, where they can share one parallel
// region: the multi-threaded GEMV or the BF16 register tiles, all with the
// same weight type and columns. Empty where they cannot.
std::optional<MatmulPath> one_region_path(int64_t n_tokens, std::span<const MatmulOutput> outputs, int n_threads) {
  if (outputs.size() < 2 || n_threads < 2 || n_tokens == 0) return std::nullopt;
  const WeightMatrix& first = outputs.front().weights;
  const MatmulPath path = choose_path(n_tokens, first);
  if (path != MatmulPath::kGemv && path != MatmulPath::kBf16Tiles) return std::nullopt;
  for (const MatmulOutput& output : outputs) {
    const WeightMatrix& w = output.weights;
    if (cache_resident(w) || w.rows == 0 || w.dtype != first.dtype || w.cols != first.cols ||
        choose_path(n_tokens, w) != path)
      return std::nullopt;
  }
  return path;
}

}  // namespace

void matmul_group(const float* x, int64_t n_tokens, std::span<const MatmulOutput> outputs, int n_threads) {
  for (const MatmulOutput& output : outputs) check_shape(x, n_tokens, output.weights, output.y);
  const std::optional<MatmulPath> shared_path = one_region_path(n_tokens, outputs, n_threads);
  if (shared_path == MatmulPath::kGemv) return gemv_outputs(x, n_tokens, outputs, n_threads);
  if (shared_path == MatmulPath::kBf16Tiles) {
    const WeightMatrix& first = outputs.front().weights;
    return bf16_tiles(rounded_input(x, n_tokens, first.cols, first.dtype), n_tokens, outputs, n_threads);
  }
  const uint16_t* x16 = nullptr;  // x rounded to x16_dtype, once some output needed it
  std::optional<DType> x16_dtype;
  for (const MatmulOutput& output : outputs) {
    const WeightMatrix& w = output.weights;
    const MatmulPath path = choose_path(n_tokens, w);
    switch (path) {
      case MatmulPath::kGemv:
        gemv(x, n_tokens, w, output.y, n_threads);
        break;
      case MatmulPath::kGemmFp32:
        gemm_widened(x, n_tokens, w, output.y, n_threads);
        break;
      case MatmulPath::kGemmNative16:
      case MatmulPath::kBf16Tiles:
        if (x16_dtype != w.dtype) {
          x16 = rounded_input(x, n_tokens, w.cols, w.dtype);
          x16_dtype = w.dtype;
        }
        if (path == MatmulPath::kBf16Tiles)
          bf16_tiles(x16, n_tokens, {&output, 1}, n_threads);
        else
          gemm_native_16bit(x16, n_tokens, w, output.y, n_threads);
        break;
    }
  }
}

bool matmul_rounds_input(int64_t n_tokens, const WeightMatrix& w) {
  const MatmulPath path = choose_path(n_tokens, w);
  return path == MatmulPath::kGemmNative16 || path == MatmulPath::kBf16Tiles;
}

void matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads) {
  const MatmulOutput output{w, y};
  matmul_group(x, n_tokens, {&output, 1}, n_threads);
}

}  // namespace slkv::cpu
