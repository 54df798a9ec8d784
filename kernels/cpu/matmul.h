#pragma once
// Matrix products against a row-major weight matrix W [rows, cols] (F32, F16
// or BF16): y[t][r] = sum_c x[t][c] * W[r][c], x and y fp32.
#include <cstdint>

#include "kernels/backend.h"

namespace slkv::cpu {

// From this many tokens on, matmul() takes the GEMM path. Below it the decode
// kernel, which reads each weight once for all tokens, measured faster than
// the sgemm (whose packing of W does not pay off for so few tokens).
constexpr int64_t kGemmMinTokens = 16;

// Picks gemv() or gemm() by the number of tokens.
void matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads);

// Decode kernel: streams every weight row once for all n_tokens, a 64-byte
// line per row and step, widening 16-bit weights on the fly; rows are split
// across n_threads (one thread for tiny matrices, whose fork/join would cost
// more than the work).
void gemv(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads);

// Prefill path: oneDNN sgemm over slices of W rows, one slice per thread;
// 16-bit weights are widened to fp32 a panel of rows at a time first.
void gemm(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads);

}  // namespace slkv::cpu
