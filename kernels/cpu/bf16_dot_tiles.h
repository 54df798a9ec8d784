#pragma once
// Decode with BF16 weights on CPUs with AVX512-BF16 (vdpbf16ps). A tile of
// R weight rows and T tokens keeps R*T fp32 accumulators in registers and
// walks the rows' 64-byte lines once, multiplying each with the T tokens'
// BF16 activations (pairs of products summed in fp32). W is read in its own
// row-major layout: oneDNN's matmul repacks W on every call, which at 4-32
// tokens costs about as much as the product (125M-shaped model, 16 tokens,
// 2 threads: 9-10 ms a step against oneDNN's 13-15).
#include <cstdint>

#include "kernels/backend.h"

namespace slkv::cpu {

// Up to kStreamMaxTokens (weight_streams.h) a product is one pass over W,
// bound by memory: the tiles then read W as the GEMV does, with one vdpbf16ps
// per line where the GEMV's widening takes two FMAs and two integer
// operations, which keep fewer lines in flight (1.26B-shaped decode matmuls
// from DRAM, 2 threads, binaries alternated: 86-90 % of the read bandwidth
// against 78-81 % at one token, 80 against 76 % at two). From three tokens on,
// tiles of four adjacent rows reuse each line for four tokens.

// True where the CPU executes vdpbf16ps (checked once, at run time: the
// kernels are compiled for it whatever -march says).
bool bf16_dot_supported();

// y[t * w.rows + r] = W[r] . x16[t] for rows [row_begin, row_end) and every
// token, one thread. W is BF16 [w.rows, w.cols]; x16 [n_tokens, w.cols] is x
// already rounded to BF16. Requires bf16_dot_supported().
void bf16_dot_rows(const uint16_t* x16, int64_t n_tokens, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                   float* y);

}  // namespace slkv::cpu
