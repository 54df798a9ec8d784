#include "kernels/cpu/attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/cpu/attention_tiled.h"
#include "kernels/cpu/parallel_for.h"
#include "kernels/cpu/simd.h"
#include "core/error.h"

namespace slkv::cpu {
namespace {

using simd::kLanes;

// Keys per online-softmax step: their 16 scores form one vector, so the max,
// the exps and the normaliser update are a handful of vector ops per block.
constexpr int64_t kBlock = kLanes;

// Below this many multiply-adds (decode over a short cache) one thread does
// it all: an OpenMP fork/join would cost more than the work.
constexpr int64_t kMinParallelWork = 256 * 1024;

// Query heads of one decode row that one work item serves, whole groups of
// heads sharing a kv head where they fit: every key and value line comes from
// memory once for the group (one head per item read a 4-head group's keys
// four times: 7-9 GB/s of KV), and the row's kv heads, side by side in each
// token's KV, are read as one stream. 16 heads' states: 10-34 KiB.
constexpr int64_t kMaxHeadsPerItem = 16;

// One query head's running state over the keys seen so far. NV = vectors of
// 16 per head, a compile-time constant so q and the accumulator are vectors.
template <int NV>
struct HeadState {
  __m512 q[NV];       // scaled by shape.scale, so scores come out scaled
  __m512 acc[NV];     // sum of exp(score - running_max) * value
  __m512 normaliser;  // its lanes sum to the sum of exp(score - running_max)
  float running_max = -std::numeric_limits<float>::infinity();
};

// Independent accumulators for a block's weighted values: with one, each
// vector of the output waited on a chain of 16 dependent FMAs per 16 keys
// (4 cycles each); kValueChains * NV chains keep both FMA pipes busy.
template <int NV>
constexpr int kValueChains = NV <= 4 ? 4 : NV <= 8 ? 2 : 1;

// Score vectors (16 keys each) per online-softmax step: the step's serial
// part (the maximum across lanes, the rescaling, the exps' latency) is paid
// once per 16 * kScoreVectors keys (128 of 64 dims, 64 of 128, 32 of 256:
// 32 KiB of keys and values). Measured from memory, 12/4 heads of 64, 32K
// keys, 2 threads: 16 keys per step 23 GB/s, 64 keys 30, 128 keys 39-45, 256
// keys 30 (kernels_bench AttentionDecode).
template <int NV>
constexpr int kScoreVectors = NV <= 4 ? 8 : NV <= 8 ? 4 : 2;
template <int NV>
constexpr int64_t kBlockKeys = kScoreVectors<NV> * kBlock;

// Where a block's tokens' keys (or values) start: a block gathers up to
// kBlockKeys tokens across the cache's spans, which are often single 16-token
// blocks of the paged cache.
template <int NV>
using RowPointers = std::array<const float*, kBlockKeys<NV>>;

// Folds n_block (1..kBlockKeys) tokens' keys and values, `offset` floats
// into each token's row (the kv head's), into one head's state; `mask(v)` is
// the lane mask of vector v (the last one is partial when head_dim % 16 != 0).
template <int NV, typename Mask>
inline void attend_block(HeadState<NV>& h, const RowPointers<NV>& keys, const RowPointers<NV>& values, int64_t offset,
                         int64_t n_block, Mask mask) {
  constexpr int kVectors = kScoreVectors<NV>;
  __m512 q[NV];  // in registers for the whole block, not reloaded per key
  for (int v = 0; v < NV; ++v) q[v] = h.q[v];
  __m512 s[kVectors];  // lane j of s[i] = the score of key 16 i + j
  for (int i = 0; i < kVectors; ++i) {
    // The lanes of products[j] sum to q.k; one transposing reduction then
    // yields 16 scores as a vector, far cheaper than a horizontal sum per key.
    // Keys past n_block repeat the last one (their scores are masked below),
    // so the loop has no branch and unrolls into 16 independent chains.
    __m512 products[kBlock];
    const int64_t first = i * kBlock;
#pragma GCC unroll 16
    for (int64_t j = 0; j < kBlock; ++j) {
      const float* k = keys[size_t(std::min(first + j, n_block - 1))] + offset;
      products[j] = _mm512_mul_ps(q[0], _mm512_maskz_loadu_ps(mask(0), k));
      for (int v = 1; v < NV; ++v)
        products[j] = _mm512_fmadd_ps(q[v], _mm512_maskz_loadu_ps(mask(v), k + v * kLanes), products[j]);
    }
    const int64_t n_valid = std::clamp<int64_t>(n_block - first, 0, kBlock);
    const __mmask16 valid = n_valid == kBlock ? __mmask16(0xffff) : simd::tail_mask(n_valid);
    s[i] = _mm512_mask_mov_ps(_mm512_set1_ps(-std::numeric_limits<float>::infinity()), valid, simd::sum_lanes_16(products));
  }

  // A larger maximum rescales what was accumulated so far (to 0 on the first block).
  __m512 lane_max = s[0];
  for (int i = 1; i < kVectors; ++i) lane_max = _mm512_max_ps(lane_max, s[i]);
  const float block_max = _mm512_reduce_max_ps(lane_max);
  if (block_max > h.running_max) {
    const __m512 c = _mm512_set1_ps(std::exp(h.running_max - block_max));
    for (int v = 0; v < NV; ++v) h.acc[v] = _mm512_mul_ps(h.acc[v], c);
    h.normaliser = _mm512_mul_ps(h.normaliser, c);
    h.running_max = block_max;
  }
  const __m512 running_max = _mm512_set1_ps(h.running_max);
  alignas(64) float probabilities[kVectors * kBlock];
  for (int i = 0; i < kVectors; ++i) {
    // exp(-inf) = 0 for the keys past n_block.
    const __m512 p = simd::exp(_mm512_sub_ps(s[i], running_max));
    h.normaliser = _mm512_add_ps(h.normaliser, p);
    _mm512_store_ps(probabilities + i * kBlock, p);
  }

  constexpr int kChains = kValueChains<NV>;
  __m512 partial[kChains][NV];
  for (int c = 0; c < kChains; ++c)
    for (int v = 0; v < NV; ++v) partial[c][v] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_block; j += kChains)
    for (int c = 0; c < kChains && j + c < n_block; ++c) {  // never a value past the span's end
      const float* value = values[size_t(j + c)] + offset;
      const __m512 weight = _mm512_set1_ps(probabilities[j + c]);
      for (int v = 0; v < NV; ++v)
        partial[c][v] = _mm512_fmadd_ps(weight, _mm512_maskz_loadu_ps(mask(v), value + v * kLanes), partial[c][v]);
    }
  for (int v = 0; v < NV; ++v) {
    __m512 sum = partial[0][v];
    for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, partial[c][v]);
    h.acc[v] = _mm512_add_ps(h.acc[v], sum);
  }
}

// Query heads [first_head, first_head + n_heads) of one decode row (n_heads
// <= kMaxHeadsPerItem), each against the first n_visible keys. q, out and
// lse point at the row's head 0.
template <int NV>
void attend_heads(const float* q, int64_t first_head, int64_t n_heads, std::span<const KvSpan> kv, int64_t n_visible,
                  const AttentionShape& shape, float* out, float* lse) {
  const int64_t head_dim = shape.head_dim;
  const int64_t group = shape.n_heads / shape.n_kv_heads;  // query heads per kv head
  const int64_t stride = shape.n_kv_heads * head_dim;      // floats per token
  const __mmask16 last_mask = head_dim % kLanes ? simd::tail_mask(head_dim % kLanes) : __mmask16(0xffff);
  auto mask = [&](int v) { return v == NV - 1 ? last_mask : __mmask16(0xffff); };

  HeadState<NV> heads[kMaxHeadsPerItem];
  const __m512 scale = _mm512_set1_ps(shape.scale);
  for (int64_t i = 0; i < n_heads; ++i) {
    const float* head_q = q + (first_head + i) * head_dim;
    for (int v = 0; v < NV; ++v) {
      heads[i].q[v] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(v), head_q + v * kLanes), scale);
      heads[i].acc[v] = _mm512_setzero_ps();
    }
    heads[i].normaliser = _mm512_setzero_ps();
  }

  RowPointers<NV> keys, values;
  int64_t n_block = 0;
  auto attend = [&] {
    // The first head of a group brings its kv head's lines into cache; the
    // others find them there.
    for (int64_t i = 0; i < n_heads; ++i)
      attend_block(heads[i], keys, values, (first_head + i) / group * head_dim, n_block, mask);
    n_block = 0;
  };
  int64_t remaining = n_visible;
  for (const KvSpan& span : kv) {
    const int64_t n = std::min(span.n_tokens, remaining);
    remaining -= n;
    for (int64_t t = 0; t < n; ++t) {
      keys[size_t(n_block)] = span.keys + t * stride;
      values[size_t(n_block)] = span.values + t * stride;
      if (++n_block == kBlockKeys<NV>) attend();
    }
  }
  if (n_block > 0) attend();

  for (int64_t i = 0; i < n_heads; ++i) {
    const HeadState<NV>& h = heads[i];
    const float normaliser = _mm512_reduce_add_ps(h.normaliser);
    const __m512 inv = _mm512_set1_ps(1.f / normaliser);
    float* head_out = out + (first_head + i) * head_dim;
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(head_out + v * kLanes, mask(v), _mm512_mul_ps(h.acc[v], inv));
    if (lse) lse[first_head + i] = h.running_max + std::log(normaliser);
  }
}

using HeadsKernel = void (*)(const float*, int64_t, int64_t, std::span<const KvSpan>, int64_t, const AttentionShape&,
                             float*, float*);

template <size_t... I>
constexpr std::array<HeadsKernel, sizeof...(I)> make_kernels(std::index_sequence<I...>) {
  return {&attend_heads<int(I) + 1>...};
}

// kKernels[NV - 1] handles head_dim in (16 (NV - 1), 16 NV].
constexpr auto kKernels = make_kernels(std::make_index_sequence<kMaxAttentionHeadDim / kLanes>());

}  // namespace

namespace {

// Checks a job's shape; returns its number of keys.
int64_t checked_keys(const AttentionJob& job, const AttentionShape& shape) {
  SLKV_CHECK(shape.n_heads > 0 && shape.n_kv_heads > 0 && shape.n_heads % shape.n_kv_heads == 0,
             "attention heads " << shape.n_heads << " / kv heads " << shape.n_kv_heads);
  SLKV_CHECK(shape.head_dim > 0 && shape.head_dim <= kMaxAttentionHeadDim,
             "attention head_dim " << shape.head_dim << " (supported: 1.." << kMaxAttentionHeadDim << ")");
  int64_t total = 0;
  for (const KvSpan& span : job.kv) total += span.n_tokens;
  SLKV_CHECK(job.n_queries <= total, "attention: " << job.n_queries << " queries but only " << total << " keys");
  return total;
}

// A job of the per-head-group kernel, with where its queries start among
// the decode rows of the batch.
struct RowJob {
  const AttentionJob* job;
  int64_t total_keys;
  int64_t first_row;
};

// Query heads per work item: as many whole groups as kMaxHeadsPerItem
// holds (part of a group when one is larger), fewer when that would leave
// threads idle, as one decode row of a small model would.
int64_t heads_per_item(int64_t n_rows, const AttentionShape& shape, int n_threads) {
  const int64_t group = shape.n_heads / shape.n_kv_heads;
  int64_t heads =
      std::min(shape.n_heads, group <= kMaxHeadsPerItem ? kMaxHeadsPerItem / group * group : kMaxHeadsPerItem);
  auto items = [&](int64_t h) { return n_rows * ((shape.n_heads + h - 1) / h); };
  while (heads > 1 && items(heads) < n_threads) heads = (heads + 1) / 2;
  return heads;
}

}  // namespace

void attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape, float* out,
               float* lse, int n_threads) {
  const AttentionJob job{q, n_queries, kv, out, lse};
  attention_batch(std::span(&job, 1), shape, n_threads);
}

void attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape, int n_threads) {
  // Prompt chunks: tiles of queries share every key and value loaded. The
  // decode rows of all sequences: one parallel loop over every (row, head
  // group) item, one fork/join per layer rather than one per sequence.
  std::vector<RowJob> row_jobs;  // local: the OpenMP workers read this one
  row_jobs.reserve(jobs.size());
  int64_t n_rows = 0, work = 0;
  for (const AttentionJob& job : jobs) {
    const int64_t total = checked_keys(job, shape);
    if (job.n_queries >= kQueryTile) {
      attention_tiled(job.q, job.n_queries, job.kv, shape, job.out, job.lse, n_threads);
      continue;
    }
    row_jobs.push_back({&job, total, n_rows});
    n_rows += job.n_queries;
    // Multiply-adds: two per key and head_dim element, over ~total - n_queries/2 keys per query.
    work += job.n_queries * shape.n_heads * (total - job.n_queries / 2) * shape.head_dim * 2;
  }
  if (n_rows == 0) return;

  const HeadsKernel kernel = kKernels[size_t((shape.head_dim + kLanes - 1) / kLanes - 1)];
  const int threads = work < kMinParallelWork ? 1 : n_threads;
  const int64_t heads = heads_per_item(n_rows, shape, threads);
  const int64_t items_per_row = (shape.n_heads + heads - 1) / heads;
  auto run = [&](int64_t item) {
    const int64_t row = item / items_per_row;
    const int64_t first_head = item % items_per_row * heads;
    // The job holding this row: the last one starting at or before it.
    const auto next = std::upper_bound(row_jobs.begin(), row_jobs.end(), row,
                                       [](int64_t r, const RowJob& j) { return r < j.first_row; });
    const RowJob& j = *(next - 1);
    const int64_t query = row - j.first_row;
    const int64_t offset = query * shape.n_heads;  // the row's head 0
    kernel(j.job->q + offset * shape.head_dim, first_head, std::min(heads, shape.n_heads - first_head), j.job->kv,
           j.total_keys - j.job->n_queries + query + 1, shape, j.job->out + offset * shape.head_dim,
           j.job->lse ? j.job->lse + offset : nullptr);
  };
  // Dynamic: rows differ in length.
  parallel_for_dynamic(n_rows * items_per_row, threads, run);
}

}  // namespace slkv::cpu
