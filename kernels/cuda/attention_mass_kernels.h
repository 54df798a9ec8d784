#pragma once
// SimLayerKV's window mass and SnapKV's key mass on the GPU
// (attention_mass_kernels.cu): probabilities exp(scale q.k - lse) recomputed
// for the keys needed, from attention()'s lse; no attention matrix.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/kernel_types.h"

namespace slkv::cuda {

// The queries being observed: q [n_queries][n_heads][head_dim] and lse
// [n_queries][n_heads]; query i sees keys 0 .. first_query_key + i.
struct ObservedQueries {
  const float* q = nullptr;
  const float* lse = nullptr;
  int64_t n_queries = 0;
  int64_t first_query_key = 0;
};

// Backend::window_attention_mass: writes the summed mass to *total (one
// device double). item_mass: device scratch of n_queries * n_heads doubles,
// summed in a fixed order so the result does not depend on scheduling.
void launch_window_attention_mass(const ObservedQueries& queries, const KvSpanTable& kv,
                                  const AttentionGeometry& geometry, int64_t sink, int64_t recent, double* item_mass,
                                  double* total, cudaStream_t stream);

// Backend::key_attention_mass: key_mass [n_kv_heads][kv.total] (device) +=
// per-key probability summed over queries and the query heads of each KV
// head. Each block owns 32 keys of one KV head: no two blocks write the same
// element. head_dim <= kMaxAttentionHeadDim.
void launch_key_attention_mass(const ObservedQueries& queries, const KvSpanTable& kv,
                               const AttentionGeometry& geometry, float* key_mass, cudaStream_t stream);

}  // namespace slkv::cuda
