#pragma once
// Causal GQA attention over a KV span table (attention_kernels.cu), flash
// style: keys in tiles of 32 with an online softmax, no score matrix. Long
// key ranges with few query rows (decode) are split over several blocks
// (flash-decoding): each writes a partial (max, sum, unnormalised output) and
// a combine kernel merges them.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/kernel_types.h"

namespace slkv::cuda {

// How one attention call is split over keys.
struct AttentionPlan {
  int n_splits = 1;          // blocks along the keys per (query rows, kv head)
  int64_t split_keys = 0;    // keys per split, a multiple of the key tile
  size_t scratch_bytes = 0;  // partials, when n_splits > 1
};

// Picks the split so that the grid (with `concurrent_calls` such calls in
// one launch) fills `sm_count` multiprocessors about twice, with at least a
// few hundred keys per split.
AttentionPlan plan_attention(int64_t n_queries, const KvSpanTable& kv, const AttentionGeometry& geometry, int sm_count,
                             int64_t concurrent_calls = 1);

// One call's arguments as the kernels read them (a batch of calls is an
// array of these in device memory).
struct AttentionParams {
  const float* q;
  float* out;
  float* lse;  // may be null
  KvSpanTable kv;
  int64_t n_queries, n_heads, head_dim, group, token_stride;
  float scale;
  int64_t split_keys;
  int n_splits;
  // With n_splits > 1, per (split, item): unnormalised output, max and sum.
  float* partial_out;  // [n_splits][n_items][head_dim]
  float* partial_max;  // [n_splits][n_items]
  float* partial_sum;  // [n_splits][n_items]
};

// The parameters of one launch_attention call (same arguments).
AttentionParams make_attention_params(const float* q, int64_t n_queries, const KvSpanTable& kv,
                                      const AttentionGeometry& geometry, const AttentionPlan& plan, void* scratch,
                                      float* out, float* lse);

// Backend::attention on device memory: q [n_queries][n_heads][head_dim],
// out likewise, lse [n_queries][n_heads] or null. scratch: plan.scratch_bytes
// of device memory (may be null when that is 0). Requires 1 <= n_queries <=
// kv.total, head_dim <= kMaxAttentionHeadDim, n_heads % n_kv_heads == 0.
void launch_attention(const float* q, int64_t n_queries, const KvSpanTable& kv, const AttentionGeometry& geometry,
                      const AttentionPlan& plan, void* scratch, float* out, float* lse, cudaStream_t stream);

// Several launch_attention calls in one launch (and one combine launch):
// jobs [n_jobs] in device memory, from make_attention_params, every one with
// `n_queries` queries and this geometry, each with its own KV, plan (at most
// max_splits splits) and scratch.
void launch_attention_jobs(const AttentionParams* jobs, int64_t n_jobs, int64_t n_queries,
                           const AttentionGeometry& geometry, int max_splits, cudaStream_t stream);

}  // namespace slkv::cuda
