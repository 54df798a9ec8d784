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

// Lane j of the result = the sum of the 16 lanes of d[j]: a 16x16 transpose
// folded into the additions (30 shuffles and 15 adds for 16 sums).
inline __m512 sum_lanes_16(const __m512 d[16]) {
  // Pairs: lanes (4c + {0,1,2,3}) of t[i] hold 128-bit chunk c's partial sums
  // of d[2i] (lanes 0, 2) and d[2i + 1] (lanes 1, 3).
  __m512 t[8];
  for (int i = 0; i < 8; ++i)
    t[i] = _mm512_add_ps(_mm512_unpacklo_ps(d[2 * i], d[2 * i + 1]), _mm512_unpackhi_ps(d[2 * i], d[2 * i + 1]));
  // Quads: lane 4c + m of u[i] = chunk c's sum of d[4i + m].
  __m512 u[4];
  for (int i = 0; i < 4; ++i)
    u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Add the four chunks while moving u[i]'s sums to chunk i.
  const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// One query head against its first n_visible keys. NV = vectors of 16 per
// head, a compile-time constant so q and the output accumulator stay in
// registers; the last vector is masked when head_dim % 16 != 0.
template <int NV>
void attend_head(const float* q, std::span<const KvSpan> kv, int64_t kv_head, int64_t n_visible,
                 const AttentionShape& shape, float* out, float* lse) {
  const int64_t head_dim = shape.head_dim;
  const int64_t token_stride = shape.n_kv_heads * head_dim;  // floats between a head's consecutive keys
  const __mmask16 last_mask = head_dim % kLanes ? simd::tail_mask(head_dim % kLanes) : __mmask16(0xffff);
  auto mask = [&](int v) { return v == NV - 1 ? last_mask : __mmask16(0xffff); };

  __m512 qv[NV], acc[NV];
  const __m512 scale = _mm512_set1_ps(shape.scale);
  for (int v = 0; v < NV; ++v) {
    qv[v] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(v), q + v * kLanes), scale);  // scores come out scaled
    acc[v] = _mm512_setzero_ps();
  }
  float running_max = -std::numeric_limits<float>::infinity();
  float normaliser = 0.f;  // sum of exp(score - running_max) so far

  int64_t remaining = n_visible;
  for (const KvSpan& span : kv) {
    if (remaining == 0) break;
    const int64_t n = std::min(span.n_tokens, remaining);
    remaining -= n;
    const float* keys = span.keys + kv_head * head_dim;
    const float* values = span.values + kv_head * head_dim;

    for (int64_t block = 0; block < n; block += kBlock) {
      const int64_t n_block = std::min(kBlock, n - block);
      // The lanes of products[j] sum to q.k_j; one transposing reduction
      // then yields the block's 16 scores as a vector, far cheaper than a
      // horizontal sum per key.
      __m512 products[kBlock];
      for (int64_t j = 0; j < kBlock; ++j) {
        products[j] = _mm512_setzero_ps();
        if (j >= n_block) continue;
        const float* k = keys + (block + j) * token_stride;
        for (int v = 0; v < NV; ++v)
          products[j] = _mm512_fmadd_ps(qv[v], _mm512_maskz_loadu_ps(mask(v), k + v * kLanes), products[j]);
      }
      const __mmask16 valid = n_block == kBlock ? __mmask16(0xffff) : simd::tail_mask(n_block);
      const __m512 s =
          _mm512_mask_mov_ps(_mm512_set1_ps(-std::numeric_limits<float>::infinity()), valid, sum_lanes_16(products));
      alignas(64) float probabilities[kBlock];

      // A larger maximum rescales what was accumulated so far (to 0 on the first block).
      const float block_max = _mm512_reduce_max_ps(s);
      if (block_max > running_max) {
        const float correction = std::exp(running_max - block_max);
        const __m512 c = _mm512_set1_ps(correction);
        for (int v = 0; v < NV; ++v) acc[v] = _mm512_mul_ps(acc[v], c);
        normaliser *= correction;
        running_max = block_max;
      }
      const __m512 p = _mm512_maskz_mov_ps(valid, simd::exp(_mm512_sub_ps(s, _mm512_set1_ps(running_max))));
      normaliser += _mm512_reduce_add_ps(p);
      _mm512_store_ps(probabilities, p);

      for (int64_t j = 0; j < n_block; ++j) {
        const float* value = values + (block + j) * token_stride;
        const __m512 weight = _mm512_set1_ps(probabilities[j]);
        for (int v = 0; v < NV; ++v)
          acc[v] = _mm512_fmadd_ps(weight, _mm512_maskz_loadu_ps(mask(v), value + v * kLanes), acc[v]);
      }
    }
  }

  const __m512 inv = _mm512_set1_ps(1.f / normaliser);
  for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + v * kLanes, mask(v), _mm512_mul_ps(acc[v], inv));
  if (lse) *lse = running_max + std::log(normaliser);
}

using HeadKernel = void (*)(const float*, std::span<const KvSpan>, int64_t, int64_t, const AttentionShape&, float*,
                            float*);

template <size_t... I>
constexpr std::array<HeadKernel, sizeof...(I)> make_kernels(std::index_sequence<I...>) {
  return {&attend_head<int(I) + 1>...};
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

// A job of the per-pair kernel, with where its (query, head) pairs start in
// the batch's flat numbering.
struct PairJob {
  const AttentionJob* job;
  int64_t total_keys;
  int64_t first_item;
};

}  // namespace

void attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape, float* out,
               float* lse, int n_threads) {
  const AttentionJob job{q, n_queries, kv, out, lse};
  attention_batch(std::span(&job, 1), shape, n_threads);
}

void attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape, int n_threads) {
  // Prompt chunks: tiles of queries share every key and value loaded. The
  // decode rows of all sequences: one parallel loop over every (query, head)
  // pair, one fork/join per layer rather than one per sequence.
  std::vector<PairJob> pair_jobs;  // local: the OpenMP workers read this one
  pair_jobs.reserve(jobs.size());
  int64_t n_items = 0, work = 0;
  for (const AttentionJob& job : jobs) {
    const int64_t total = checked_keys(job, shape);
    if (job.n_queries >= kQueryTile) {
      attention_tiled(job.q, job.n_queries, job.kv, shape, job.out, job.lse, n_threads);
      continue;
    }
    pair_jobs.push_back({&job, total, n_items});
    n_items += job.n_queries * shape.n_heads;
    // Multiply-adds: two per key and head_dim element, over ~total - n_queries/2 keys per query.
    work += job.n_queries * shape.n_heads * (total - job.n_queries / 2) * shape.head_dim * 2;
  }
  if (n_items == 0) return;

  const HeadKernel kernel = kKernels[size_t((shape.head_dim + kLanes - 1) / kLanes - 1)];
  const int64_t group = shape.n_heads / shape.n_kv_heads;  // query heads per kv head
  auto run = [&](int64_t item) {
    // The job holding this pair: the last one starting at or before it.
    const auto next = std::upper_bound(pair_jobs.begin(), pair_jobs.end(), item,
                                       [](int64_t i, const PairJob& p) { return i < p.first_item; });
    const PairJob& p = *(next - 1);
    const int64_t local = item - p.first_item;  // (query, head) within the job, head fastest
    const int64_t query = local / shape.n_heads;
    const int64_t head = local % shape.n_heads;
    const int64_t offset = local * shape.head_dim;
    kernel(p.job->q + offset, p.job->kv, head / group, p.total_keys - p.job->n_queries + query + 1, shape,
           p.job->out + offset, p.job->lse ? p.job->lse + local : nullptr);
  };
  // Dynamic: rows differ in length. Consecutive heads of a query share a kv
  // head, whose keys the first one leaves in cache for the next.
  parallel_for_dynamic(n_items, work < kMinParallelWork ? 1 : n_threads, run);
}

}  // namespace slkv::cpu
