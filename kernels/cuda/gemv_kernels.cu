// GEMV for decode: `split` warps per weight row (1, 2, 4 or 8, so a block of
// 8 warps holds 8 / split rows). The warps of a row take interleaved 512-byte
// stretches of it; a warp's lanes take 16 bytes each (8 x 16-bit or 4 x
// fp32), keep one partial sum per token and reduce them with shuffles, and
// the row's warps then add theirs through shared memory. Splitting a row
// keeps enough loads in flight when a tensor-parallel shard leaves few rows.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/gemv_kernels.h"

namespace slkv::cuda {
namespace {

constexpr int kWarps = 8;  // rows per block
constexpr int kThreads = kWarps * kWarpSize;

// Widens the 16 bytes in `raw` to 16 / sizeof(Storage) floats.
template <ElementType E>
__device__ __forceinline__ void widen_vector(const uint4& raw, float* out) {
  if constexpr (E == ElementType::F32) {
    out[0] = __uint_as_float(raw.x);
    out[1] = __uint_as_float(raw.y);
    out[2] = __uint_as_float(raw.z);
    out[3] = __uint_as_float(raw.w);
  } else {
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
    for (int i = 0; i < 4; ++i) {  // little-endian: element 2i is the low half
      out[2 * i] = Element<E>::widen(uint16_t(words[i] & 0xffffu));
      out[2 * i + 1] = Element<E>::widen(uint16_t(words[i] >> 16));
    }
  }
}

// kVector: every row starts 16-byte aligned and holds whole vectors, and x is
// 16-byte aligned with cols % 4 == 0 (the launcher checks).
template <ElementType E, int T, bool kVector>
__global__ void __launch_bounds__(kThreads) gemv_kernel(const float* x, const typename Element<E>::Storage* w,
                                                        int64_t rows, int64_t cols, float* y, int split) {
  using Storage = typename Element<E>::Storage;
  __shared__ float partial[kWarps][T];  // each warp's sums, when rows are split
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int part = warp % split;  // which of the row's warps this is
  const int64_t row = int64_t(blockIdx.x) * (kWarps / split) + warp / split;
  const bool active = row < rows;  // uniform over the warp
  const Storage* weights = w + (active ? row : 0) * cols;

  float acc[T];
  for (int t = 0; t < T; ++t) acc[t] = 0.f;
  if (active) {
    if constexpr (kVector) {
      constexpr int kPer = 16 / int(sizeof(Storage));  // elements per 16-byte vector
      const int64_t n_vectors = cols / kPer;
      const uint4* vectors = reinterpret_cast<const uint4*>(weights);
#pragma unroll 4
      for (int64_t v = lane + int64_t(part) * kWarpSize; v < n_vectors; v += int64_t(kWarpSize) * split) {
        float wf[kPer];
        widen_vector<E>(__ldg(vectors + v), wf);
        for (int t = 0; t < T; ++t) {
          const float4* xs = reinterpret_cast<const float4*>(x + t * cols + v * kPer);
          for (int q = 0; q < kPer / 4; ++q) {
            const float4 xv = __ldg(xs + q);
            acc[t] += wf[4 * q] * xv.x + wf[4 * q + 1] * xv.y + wf[4 * q + 2] * xv.z + wf[4 * q + 3] * xv.w;
          }
        }
      }
    } else {
      for (int64_t c = lane + int64_t(part) * kWarpSize; c < cols; c += int64_t(kWarpSize) * split) {
        const float wv = Element<E>::widen(weights[c]);
        for (int t = 0; t < T; ++t) acc[t] += wv * __ldg(x + t * cols + c);
      }
    }
  }
  for (int t = 0; t < T; ++t) acc[t] = warp_sum(acc[t]);
  if (split == 1) {  // uniform over the block
    if (active && lane == 0)
      for (int t = 0; t < T; ++t) y[t * rows + row] = acc[t];
    return;
  }
  if (lane == 0)
    for (int t = 0; t < T; ++t) partial[warp][t] = acc[t];
  __syncthreads();
  // The row's first warp adds its warps' sums: lane t for token t.
  if (active && part == 0 && lane < T) {
    float sum = 0.f;
    for (int p = 0; p < split; ++p) sum += partial[warp + p][lane];
    y[int64_t(lane) * rows + row] = sum;
  }
}

// Warps per row: doubled (up to a block) while the grid would have fewer
// than kBlocksPerSm blocks per multiprocessor and each warp still gets a
// full stride of the row.
int warps_per_row(int64_t rows, int64_t row_units, int sm_count) {
  constexpr int64_t kBlocksPerSm = 4;
  int split = 1;
  while (split < kWarps && (rows + kWarps / split - 1) / (kWarps / split) < kBlocksPerSm * sm_count &&
         row_units / (2 * split) >= kWarpSize)
    split *= 2;
  return split;
}

template <ElementType E, int T>
void launch_typed(const float* x, const void* w, int64_t rows, int64_t cols, float* y, int sm_count,
                  cudaStream_t stream) {
  using Storage = typename Element<E>::Storage;
  constexpr int64_t kPer = 16 / int64_t(sizeof(Storage));
  const bool vector = reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                      cols % kPer == 0;
  const int split = warps_per_row(rows, vector ? cols / kPer : cols, sm_count);
  const int64_t rows_per_block = kWarps / split;
  const unsigned blocks = unsigned((rows + rows_per_block - 1) / rows_per_block);
  const auto* weights = static_cast<const Storage*>(w);
  if (vector)
    gemv_kernel<E, T, true><<<blocks, kThreads, 0, stream>>>(x, weights, rows, cols, y, split);
  else
    gemv_kernel<E, T, false><<<blocks, kThreads, 0, stream>>>(x, weights, rows, cols, y, split);
  CUDA_CHECK_LAUNCH();
}

template <ElementType E>
void launch_tokens(const float* x, int64_t n_tokens, const void* w, int64_t rows, int64_t cols, float* y,
                   int sm_count, cudaStream_t stream) {
  static_assert(kGemvMaxTokens == 8, "one case per token count below");
  switch (n_tokens) {
    case 1: return launch_typed<E, 1>(x, w, rows, cols, y, sm_count, stream);
    case 2: return launch_typed<E, 2>(x, w, rows, cols, y, sm_count, stream);
    case 3: return launch_typed<E, 3>(x, w, rows, cols, y, sm_count, stream);
    case 4: return launch_typed<E, 4>(x, w, rows, cols, y, sm_count, stream);
    case 5: return launch_typed<E, 5>(x, w, rows, cols, y, sm_count, stream);
    case 6: return launch_typed<E, 6>(x, w, rows, cols, y, sm_count, stream);
    case 7: return launch_typed<E, 7>(x, w, rows, cols, y, sm_count, stream);
    case 8: return launch_typed<E, 8>(x, w, rows, cols, y, sm_count, stream);
    default: ::slkv::cuda_fail("launch_gemv", "token count outside 1..8", __FILE__, __LINE__);
  }
}

}  // namespace

void launch_gemv(const float* x, int64_t n_tokens, const void* w, ElementType type, int64_t rows, int64_t cols,
                 float* y, int sm_count, cudaStream_t stream) {
  if (rows == 0) return;
  switch (type) {
    case ElementType::F32: return launch_tokens<ElementType::F32>(x, n_tokens, w, rows, cols, y, sm_count, stream);
    case ElementType::F16: return launch_tokens<ElementType::F16>(x, n_tokens, w, rows, cols, y, sm_count, stream);
    case ElementType::BF16: return launch_tokens<ElementType::BF16>(x, n_tokens, w, rows, cols, y, sm_count, stream);
  }
}

}  // namespace slkv::cuda
