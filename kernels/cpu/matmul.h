#pragma once
// Matrix products against a row-major weight matrix W [rows, cols] (F32, F16
// or BF16): y[t][r] = sum_c x[t][c] * W[r][c], x and y fp32.
#include <cstdint>
#include <span>

#include "kernels/backend.h"

namespace slkv::cpu {

// From this many tokens on, matmul() takes the GEMM path (oneDNN's brgemm
// matmul, which also reads each weight once per call for all tokens) for
// 16-bit weights the CPU multiplies natively, and for F32 weights from
// kGemmMinTokensF32; below it the GEMV tiles are faster. F32, 125M-shaped
// model, 2 threads, weights in huge pages, ms per step GEMV tiles / oneDNN:
// 12.7-12.9 / 18.6-18.8 at 4 tokens, 17.8-19.9 / 21.0-21.2 at 8, level at
// 12, 27.5-30.1 / 25.4-26.1 at 16 (kernels_bench DecodeBatchPath, AMD EPYC
// Zen 5, GEMV tiles reading long streams).
constexpr int64_t kGemmMinTokens = 4;
constexpr int64_t kGemmMinTokensF32 = 12;
// The same switch for 16-bit weights the CPU cannot multiply natively (F16
// without AVX512-FP16): their GEMM widens W to fp32 first, which pays off
// only from more tokens.
constexpr int64_t kGemmWidenedMinTokens = 16;
// BF16 weights on a CPU with AVX512-BF16 take register tiles
// (bf16_dot_tiles.h) up to this many tokens, x rounded to BF16: below
// kGemmMinTokens instead of the GEMV (one vdpbf16ps per weight line keeps
// more lines in flight), above it instead of oneDNN, as they read W as it
// is, where oneDNN repacks it each call (125M-shaped model, 2 threads, ms per
// step: 8.2 / 9.3 at 4 tokens, 9.4 / 15.2 at 16, 15.4 / 20.3 at 32, level at
// 64).
constexpr int64_t kBf16TilesMaxTokens = 32;

// Weight streams one thread of gemv() reads at once for a single token (8,
// whatever the weight type). Benchmarks measure the read bandwidth with as
// many streams.
int gemv_streams();

// Picks the GEMV tiles, the BF16 register tiles or gemm() by the number of
// tokens and the weight type.
void matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads);

// True where matmul() multiplies x rounded to W's 16-bit type (the native
// 16-bit GEMM, the BF16 register tiles) rather than exactly widened weights:
// what a comparison with another implementation must allow for. w.data is
// not read.
bool matmul_rounds_input(int64_t n_tokens, const WeightMatrix& w);

// matmul() of one input by several matrices (q/k/v, gate/up): a native
// 16-bit GEMM rounds x to the weight type once for all of them.
void matmul_group(const float* x, int64_t n_tokens, std::span<const MatmulOutput> outputs, int n_threads);

// Decode kernel: streams every weight row once for all n_tokens, a 64-byte
// line per row and step, widening 16-bit weights on the fly; rows are split
// across n_threads (one thread for tiny matrices, whose fork/join would cost
// more than the work).
void gemv(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads);

// Prefill path, W's rows split across threads. F32: oneDNN's matmul. BF16/F16
// where onednn_native_16bit(): x rounded to the weight type, oneDNN's 16-bit
// matmul with fp32 accumulation. Other 16-bit cases: gemm_widened().
void gemm(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads);

// The fp32 prefill path for any dtype: oneDNN's fp32 matmul, 16-bit weights widened
// to fp32 a panel of rows at a time first (x is not rounded).
void gemm_widened(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, int n_threads);

}  // namespace slkv::cpu
