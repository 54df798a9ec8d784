#pragma once
// Matrix products through oneDNN's matmul primitive: F32 x F32, or BF16 (F16)
// activations times BF16 (F16) weights, accumulated and written in fp32.
// oneDNN JIT-compiles AVX-512, AVX512-BF16, AMX or AVX512-FP16 kernels for
// the CPU it runs on; 16-bit pairs multiply 2x (AVX512-BF16) to ~8x (AMX)
// faster than fp32 FMAs.
#include <cstdint>

#include "kernels/backend.h"

namespace slkv::cpu {

// Whether this CPU multiplies `dtype` natively through oneDNN: BF16 needs
// AVX512-BF16 or AMX; F16 needs a oneDNN that implements it on this CPU
// (oneDNN 2.6, Debian's, has no F16 matmul on CPUs). F32 is never "16-bit
// native". Decided once per process (ONEDNN_MAX_CPU_ISA can lower it).
bool onednn_native_16bit(DType dtype);

// out[i] = in[i] rounded to nearest even in dtype's 16 bits (BF16 or F16),
// bit-identical to float_to_bf16 / float_to_f16.
void round_to_16bit(DType dtype, const float* in, int64_t n, uint16_t* out);

// y[t * y_stride + r] = sum_c x[t][c] * W[r][c] for every row of w and
// token, accumulated in fp32, on the calling thread (call it with
// omp_set_num_threads(1) inside a parallel region). x is [n_tokens, w.cols]
// in w.dtype: floats for F32, the rounded bits for BF16/F16 (which must be
// onednn_native_16bit). A slice of a matrix's rows is a WeightMatrix of its
// own, with y pointing at its first column and y_stride the full row count.
// The primitives are created once per shape and thread, then reused.
void onednn_matmul(const void* x, int64_t n_tokens, const WeightMatrix& w, float* y, int64_t y_stride);

}  // namespace slkv::cpu
