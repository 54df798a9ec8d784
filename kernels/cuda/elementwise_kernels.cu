// Row-wise and element-wise kernels: grid-stride loops over int64 indices, so
// any size runs with a capped grid.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/elementwise_kernels.h"

namespace slkv::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarpSize;

// One block per row: the sum of squares is reduced over the block, then the
// row is scaled. Each thread writes only elements it read itself, after the
// reduction's barrier, so y may be x.
__global__ void __launch_bounds__(kThreads)
    rmsnorm_kernel(const float* x, const float* weight, int64_t dim, float eps, float* y) {
  __shared__ float warp_sums[kWarps];
  const float* row = x + int64_t(blockIdx.x) * dim;
  float* row_out = y + int64_t(blockIdx.x) * dim;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) sum += row[i] * row[i];
  sum = warp_sum(sum);
  if (threadIdx.x % kWarpSize == 0) warp_sums[threadIdx.x / kWarpSize] = sum;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < kWarps; ++w) total += warp_sums[w];
  const float inv_rms = 1.f / sqrtf(total / float(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) row_out[i] = row[i] * inv_rms * weight[i];
}

// One thread per (token, head, frequency) pair of elements.
__global__ void rope_kernel(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t half,
                            const float* inv_freq) {
  const int64_t n = n_tokens * n_heads * half;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx % half;
    const int64_t token_head = idx / half;
    const int64_t token = token_head / n_heads;
    // float(position) * inv_freq in float, as Hugging Face computes the angle.
    const float angle = float(positions[token]) * inv_freq[i];
    float sin_angle, cos_angle;
    sincosf(angle, &sin_angle, &cos_angle);
    float* first = x + token_head * 2 * half + i;
    const float a = first[0], b = first[half];
    first[0] = a * cos_angle - b * sin_angle;
    first[half] = b * cos_angle + a * sin_angle;
  }
}

__global__ void swiglu_kernel(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    // silu(g) = g / (1 + e^-g); for very negative g, e^-g = inf gives -0.
    out[i] = g / (1.f + expf(-g)) * up[i];
  }
}

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t n, int64_t dim) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % dim];
}

template <ElementType E>
__global__ void embedding_kernel(const typename Element<E>::Storage* table, int64_t rows, int64_t cols,
                                 const int32_t* ids, int64_t n_tokens, float* out, int32_t* error) {
  const int64_t n = n_tokens * cols;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t token = idx / cols;
    const int64_t col = idx % cols;
    const int64_t id = ids[token];
    if (id < 0 || id >= rows) {
      out[idx] = CUDART_NAN_F;
      if (atomicCAS(&error[0], 0, 1) == 0) error[1] = int32_t(id);
      continue;
    }
    out[idx] = Element<E>::widen(table[id * cols + col]);
  }
}

__global__ void narrow_bf16_kernel(const float* x, int64_t n, __nv_bfloat16* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16_rn(x[i]);
}

__global__ void narrow_f16_kernel(const float* x, int64_t n, __half* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __float2half_rn(x[i]);
}

}  // namespace

void launch_rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y,
                    cudaStream_t stream) {
  if (n_tokens == 0) return;
  rmsnorm_kernel<<<unsigned(n_tokens), kThreads, 0, stream>>>(x, weight, dim, eps, y);
  CUDA_CHECK_LAUNCH();
}

void launch_rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                 const float* inv_freq, cudaStream_t stream) {
  const int64_t n = n_tokens * n_heads * (head_dim / 2);
  if (n == 0) return;
  rope_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, stream>>>(x, positions, n_tokens, n_heads, head_dim / 2,
                                                                         inv_freq);
  CUDA_CHECK_LAUNCH();
}

void launch_swiglu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream) {
  if (n == 0) return;
  swiglu_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, stream>>>(gate, up, n, out);
  CUDA_CHECK_LAUNCH();
}

void launch_add(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, stream>>>(y, x, n);
  CUDA_CHECK_LAUNCH();
}

void launch_add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim, cudaStream_t stream) {
  const int64_t n = n_tokens * dim;
  if (n == 0) return;
  add_bias_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, stream>>>(y, bias, n, dim);
  CUDA_CHECK_LAUNCH();
}

void launch_embedding(const void* table, ElementType type, int64_t rows, int64_t cols, const int32_t* ids,
                      int64_t n_tokens, float* out, int32_t* error, cudaStream_t stream) {
  const int64_t n = n_tokens * cols;
  if (n == 0) return;
  const unsigned blocks = grid_stride_blocks(n, kThreads);
  switch (type) {
    case ElementType::F32:
      embedding_kernel<ElementType::F32><<<blocks, kThreads, 0, stream>>>(static_cast<const float*>(table), rows,
                                                                          cols, ids, n_tokens, out, error);
      break;
    case ElementType::F16:
      embedding_kernel<ElementType::F16><<<blocks, kThreads, 0, stream>>>(static_cast<const uint16_t*>(table), rows,
                                                                          cols, ids, n_tokens, out, error);
      break;
    case ElementType::BF16:
      embedding_kernel<ElementType::BF16><<<blocks, kThreads, 0, stream>>>(static_cast<const uint16_t*>(table), rows,
                                                                           cols, ids, n_tokens, out, error);
      break;
  }
  CUDA_CHECK_LAUNCH();
}

void launch_narrow(const float* x, int64_t n, ElementType type, void* out, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned blocks = grid_stride_blocks(n, kThreads);
  switch (type) {
    case ElementType::BF16:
      narrow_bf16_kernel<<<blocks, kThreads, 0, stream>>>(x, n, static_cast<__nv_bfloat16*>(out));
      break;
    case ElementType::F16:
      narrow_f16_kernel<<<blocks, kThreads, 0, stream>>>(x, n, static_cast<__half*>(out));
      break;
    case ElementType::F32:
      ::slkv::cuda_fail("launch_narrow", "F32 is not a 16-bit type", __FILE__, __LINE__);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace slkv::cuda
