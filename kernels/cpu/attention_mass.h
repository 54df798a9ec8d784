#pragma once
// Where queries put their attention, for KV-cache compression decisions:
// SimLayerKV's lazy-layer score and SnapKV's per-key votes. Probabilities are
// recomputed from q.k and attention()'s lse, so no attention matrix is formed.
#include <cstdint>
#include <span>

#include "kernels/backend.h"

namespace slkv::cpu {

// Backend::window_attention_mass (kernels/backend.h): summed probability on
// the sink and recent windows; only the keys inside the windows are scored.
double window_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                             std::span<const KvSpan> kv, const AttentionShape& shape, int64_t sink, int64_t recent,
                             int n_threads);

// Backend::key_attention_mass: key_mass [n_kv_heads][n_keys] += probability
// per visible key, summed over queries and the query heads of each KV head.
void key_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                        std::span<const KvSpan> kv, const AttentionShape& shape, float* key_mass, int n_threads);

}  // namespace slkv::cpu
