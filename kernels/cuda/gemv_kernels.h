#pragma once
// The decode matmul: y[t][r] = W[r] . x[t] for a few tokens, reading each
// weight once for all of them (gemv_kernels.cu). Bandwidth-bound: 16-bit
// weights are read as they are stored and widened in registers.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/kernel_types.h"

namespace slkv::cuda {

// Up to this many tokens matmul takes the GEMV kernel; above, cuBLAS.
constexpr int64_t kGemvMaxTokens = 8;

// x [n_tokens][cols] fp32, w [rows][cols] of `type`, y [n_tokens][rows]; all
// device memory, 1 <= n_tokens <= kGemvMaxTokens. 16-byte vector loads when
// w and x are 16-byte aligned and a row is a whole number of 16-byte vectors,
// element loads otherwise. sm_count (the device's multiprocessors) sets how
// many warps share a row when there are few rows.
void launch_gemv(const float* x, int64_t n_tokens, const void* w, ElementType type, int64_t rows, int64_t cols,
                 float* y, int sm_count, cudaStream_t stream);

}  // namespace slkv::cuda
