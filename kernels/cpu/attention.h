#pragma once
// Causal multi-head attention with grouped KV heads over a list of KV spans,
// flash style: keys in blocks of 16 with an online softmax, so no score
// matrix is ever formed. fp32 throughout; head_dim up to 256.
#include <cstdint>
#include <span>

#include "kernels/backend.h"

namespace slkv::cpu {

constexpr int64_t kMaxAttentionHeadDim = 256;

// The Backend::attention contract (kernels/backend.h). Decode (fewer than
// kQueryTile queries) runs items of one query and up to 16 of its heads
// (whole groups sharing a kv head, so each key and value is read once per
// group), split across n_threads when the work is large enough to pay for it;
// more queries go to attention_tiled() (kernels/cpu/attention_tiled.h).
void attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape, float* out,
               float* lse, int n_threads);

// The Backend::attention_batch contract: attention() of every job, with the
// decode jobs' items shared out in one parallel loop.
void attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape, int n_threads);

}  // namespace slkv::cpu
