// GEMV for decode: one warp per weight row. The warp's lanes stride across
// the row (16 bytes of weights per lane per step: 8 x 16-bit or 4 x fp32),
// keep one partial sum per token, and reduce them with shuffles at the end.
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
__global__ void __launch_bounds__(kThreads)
    gemv_kernel(const float* x, const typename Element<E>::Storage* w, int64_t rows, int64_t cols, float* y) {
  using Storage = typename Element<E>::Storage;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  if (row >= rows) return;  // a whole warp leaves together: no shuffle below misses a lane
  const Storage* weights = w + row * cols;

  float acc[T];
  for (int t = 0; t < T; ++t) acc[t] = 0.f;
  if constexpr (kVector) {
    constexpr int kPer = 16 / int(sizeof(Storage));  // elements per 16-byte vector
    const int64_t n_vectors = cols / kPer;
    const uint4* vectors = reinterpret_cast<const uint4*>(weights);
#pragma unroll 4
    for (int64_t v = lane; v < n_vectors; v += kWarpSize) {
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
    for (int64_t c = lane; c < cols; c += kWarpSize) {
      const float wv = Element<E>::widen(weights[c]);
      for (int t = 0; t < T; ++t) acc[t] += wv * __ldg(x + t * cols + c);
    }
  }
  for (int t = 0; t < T; ++t) acc[t] = warp_sum(acc[t]);
  if (lane == 0)
    for (int t = 0; t < T; ++t) y[t * rows + row] = acc[t];
}

template <ElementType E, int T>
void launch_typed(const float* x, const void* w, int64_t rows, int64_t cols, float* y, cudaStream_t stream) {
  using Storage = typename Element<E>::Storage;
  constexpr int64_t kPer = 16 / int64_t(sizeof(Storage));
  const bool vector = reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                      cols % kPer == 0;
  const unsigned blocks = unsigned((rows + kWarps - 1) / kWarps);
  const auto* weights = static_cast<const Storage*>(w);
  if (vector)
    gemv_kernel<E, T, true><<<blocks, kThreads, 0, stream>>>(x, weights, rows, cols, y);
  else
    gemv_kernel<E, T, false><<<blocks, kThreads, 0, stream>>>(x, weights, rows, cols, y);
  CUDA_CHECK_LAUNCH();
}

template <ElementType E>
void launch_tokens(const float* x, int64_t n_tokens, const void* w, int64_t rows, int64_t cols, float* y,
                   cudaStream_t stream) {
  static_assert(kGemvMaxTokens == 8, "one case per token count below");
  switch (n_tokens) {
    case 1: return launch_typed<E, 1>(x, w, rows, cols, y, stream);
    case 2: return launch_typed<E, 2>(x, w, rows, cols, y, stream);
    case 3: return launch_typed<E, 3>(x, w, rows, cols, y, stream);
    case 4: return launch_typed<E, 4>(x, w, rows, cols, y, stream);
    case 5: return launch_typed<E, 5>(x, w, rows, cols, y, stream);
    case 6: return launch_typed<E, 6>(x, w, rows, cols, y, stream);
    case 7: return launch_typed<E, 7>(x, w, rows, cols, y, stream);
    case 8: return launch_typed<E, 8>(x, w, rows, cols, y, stream);
    default: ::slkv::cuda_fail("launch_gemv", "token count outside 1..8", __FILE__, __LINE__);
  }
}

}  // namespace

void launch_gemv(const float* x, int64_t n_tokens, const void* w, ElementType type, int64_t rows, int64_t cols,
                 float* y, cudaStream_t stream) {
  if (rows == 0) return;
  switch (type) {
    case ElementType::F32: return launch_tokens<ElementType::F32>(x, n_tokens, w, rows, cols, y, stream);
    case ElementType::F16: return launch_tokens<ElementType::F16>(x, n_tokens, w, rows, cols, y, stream);
    case ElementType::BF16: return launch_tokens<ElementType::BF16>(x, n_tokens, w, rows, cols, y, stream);
  }
}

}  // namespace slkv::cuda
