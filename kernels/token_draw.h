#pragma once
// TokenDraw: how one token is drawn from a row of logits, defined without
// reference to any sort order, so the CPU reference (kernels/cpu/sampling.h)
// and the GPU's radix-select kernel (kernels/cuda/sampling_kernels.cu) pick
// the same token from the same row and the same uniform number. (Up to
// rounding: the weights exp(z - max z) may differ in the last bits between
// the two, so a uniform or top-p target within ~1e-7 of a boundary between
// two candidates can fall either way.)
//
// temperature 0: the token with the largest logit (the lowest id on ties).
// Otherwise every token has z = logit / temperature, and candidates are
// ordered by z descending, then id ascending:
//   1. top_k > 0 keeps the first top_k candidates;
//   2. top_p < 1 keeps the shortest prefix of those whose softmax
//      probability (over the kept ones) reaches top_p;
//   3. the token is the first kept candidate at which the running sum of
//      weights exp(z - max z) exceeds uniform * (their total): an inverse-CDF
//      draw. Rounding that leaves no such candidate gives the last kept one.
#include <cstdint>

namespace slkv {

struct TokenDraw {
  float temperature = 0.f;  // 0 = greedy: nothing below is read
  int64_t top_k = 0;        // 0 = no top-k filter
  float top_p = 1.f;        // 1 = no nucleus filter
  double uniform = 0.0;     // the draw, in [0, 1)
};

}  // namespace slkv
