#pragma once
// Device helpers shared by the .cu files: warp reductions, launch sizes, the
// widening of stored elements to fp32, and the KV span lookup.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math_constants.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/kernel_types.h"

namespace slkv::cuda {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Blocks for a grid-stride loop over n items: enough to fill the GPU, capped
// so huge n does not launch millions of short blocks.
inline unsigned grid_stride_blocks(int64_t n, int threads) {
  constexpr int64_t kMaxBlocks = 8192;
  return unsigned(std::min<int64_t>((n + threads - 1) / threads, kMaxBlocks));
}

// Storage type and fp32 widening per ElementType.
template <ElementType E>
struct Element;

template <>
struct Element<ElementType::F32> {
  using Storage = float;
  __device__ __forceinline__ static float widen(float v) { return v; }
};

template <>
struct Element<ElementType::F16> {
  using Storage = uint16_t;
  __device__ __forceinline__ static float widen(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }
};

template <>
struct Element<ElementType::BF16> {
  using Storage = uint16_t;
  // bf16 is the top half of an fp32.
  __device__ __forceinline__ static float widen(uint16_t bits) { return __uint_as_float(uint32_t(bits) << 16); }
};

// Index of the span holding key `key` (< table.total): the last span whose
// start is <= key. Binary search; the table has no empty spans.
__device__ __forceinline__ int find_span(const KvSpanTable& table, int64_t key) {
  int lo = 0, hi = table.n_spans - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (table.spans[mid].start <= key)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

}  // namespace slkv::cuda
