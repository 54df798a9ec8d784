#pragma once
// Row-wise and element-wise fp32 ops of the transformer forward. The heavier
// ones take n_threads and use them only when the work is large (prefill).
#include <cstdint>

#include "kernels/backend.h"

namespace slkv::cpu {

// y[t] = x[t] * 1/sqrt(mean(x[t]^2) + eps) * weight, in float like HF (y may be x).
void rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y, int n_threads);

// In-place Hugging Face rotate-half RoPE of x [n_tokens][n_heads][head_dim]:
// (x[i], x[i + head_dim/2]) rotated by float(positions[t]) * inv_freq[i].
void rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
          const float* inv_freq, int n_threads);

// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g) (out may alias).
void swiglu(const float* gate, const float* up, int64_t n, float* out, int n_threads);

// y[i] += x[i].
void add(float* y, const float* x, int64_t n);

// y[t][i] += bias[i] for every token t.
void add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim);

// out[t] = table row ids[t] widened to fp32; ids are checked against rows.
void embedding(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* out);

}  // namespace slkv::cpu
