#pragma once
// Causal attention of many queries at once (a prompt or a prefill chunk),
// tiled so that every key and value loaded serves several queries: per KV
// head, keys are gathered transposed ([head_dim][keys]) and values packed in
// chunks, then tiles of kQueryTile queries of one head take 16-key blocks
// with an online softmax. Scores for 16 keys come out as one vector (no
// per-key horizontal sums), and each value row is loaded once per tile.
// Same contract and results as attention() (kernels/cpu/attention.h).
#include <cstdint>
#include <span>

#include "kernels/backend.h"

namespace slkv::cpu {

// Queries of one head per tile: 8 score vectors and 8 output accumulators
// per step, a quarter to half of the vector registers.
constexpr int64_t kQueryTile = 8;

void attention_tiled(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape,
                     float* out, float* lse, int n_threads);

}  // namespace slkv::cpu
