#pragma once
// Launchers of the row-wise and element-wise fp32 kernels (elementwise_kernels.cu).
// All pointers are device memory; each call enqueues work on `stream` and
// returns at once. Semantics are those of the Backend ops (kernels/backend.h).
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/kernel_types.h"

namespace slkv::cuda {

// y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight (y may be x).
void launch_rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y,
                    cudaStream_t stream);

// In-place rotate-half RoPE of x [n_tokens][n_heads][head_dim] (head_dim even).
void launch_rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                 const float* inv_freq, cudaStream_t stream);

// out[i] = silu(gate[i]) * up[i] (out may alias either input).
void launch_swiglu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream);

// y[i] += x[i].
void launch_add(float* y, const float* x, int64_t n, cudaStream_t stream);

// y[t][i] += bias[i].
void launch_add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim, cudaStream_t stream);

// out[t] = table row ids[t] ([rows][cols] of `type`) widened to fp32. A row
// for an id outside [0, rows) is NaN, and error[0..1] (device ints, zeroed by
// the caller) become {1, the id} for the first such id seen.
void launch_embedding(const void* table, ElementType type, int64_t rows, int64_t cols, const int32_t* ids,
                      int64_t n_tokens, float* out, int32_t* error, cudaStream_t stream);

// out[i] = x[i] rounded to nearest-even F16 or BF16 (type is not F32): the
// activations of a 16-bit cuBLAS GEMM.
void launch_narrow(const float* x, int64_t n, ElementType type, void* out, cudaStream_t stream);

}  // namespace slkv::cuda
