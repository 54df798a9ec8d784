#pragma once
// How the decode kernels (the GEMV tiles in matmul.cpp and the BF16 stream
// tiles in bf16_dot_tiles.cpp) read weight rows from memory: as a few long
// sequential streams, each prefetched a short way ahead. At one or two tokens
// a product is a single pass over W, and these two choices decide how much
// of the memory bandwidth it gets.
#include <cstdint>

namespace slkv::cpu {

// Up to this many tokens a product is a single pass over W at the memory's
// pace, and the decode kernels read it as kStreamRows streams (more tokens
// take tiles that reuse each line for several tokens).
constexpr int64_t kStreamMaxTokens = 2;

// Weight streams one thread reads at once for one or two tokens: eight rows
// per tile, which the 16-bit kernels need to reach full bandwidth (measured
// +20% over four adjacent rows). Sixteen streams helped while streams were
// one row long; with long streams they read less (BF16 44-48 GB/s against 52).
constexpr int kStreamRows = 8;

// How far ahead in its own stream a tile of one or two tokens prefetches each
// row: 16 lines. The eight streams' prefetched lines (8 KiB) then wait in L1
// until read. Two rows ahead (what the tiles of more tokens still do) put
// 64-128 KiB in flight per thread, more than L1 holds (1.26B-shaped decode
// matmuls from DRAM, 2 threads, binaries alternated: BF16 78-84 % of the
// read bandwidth against 73-76 %, F16 82-84 against 68-69, F32 92-96 against
// 89-94).
constexpr int64_t kStreamPrefetchBytes = 1024;

// Rows [row_begin, row_end) as R contiguous runs: tile(first_row, run_rows)
// for each R-row tile, whose rows are first_row + k * run_rows (k < R), then
// single_row(row) for the rows left over (fewer than R). A tile takes the
// next row of each run, so each of its R weight streams runs on through the
// whole run instead of ending after one row, and the hardware prefetchers
// keep long streams going (one token on 125M-shaped matrices in huge pages,
// binaries alternated: F32 60.6-61.9 GB/s against 57.4-58.0 for 8 adjacent
// rows; BF16 50-53 against 41-46 for 16 adjacent rows).
template <int R, typename TileFn, typename RowFn>
inline void for_row_runs(int64_t row_begin, int64_t row_end, TileFn tile, RowFn single_row) {
  const int64_t run_rows = (row_end - row_begin) / R;
  for (int64_t i = 0; i < run_rows; ++i) tile(row_begin + i, run_rows);
  for (int64_t r = row_begin + R * run_rows; r < row_end; ++r) single_row(r);
}

}  // namespace slkv::cpu
