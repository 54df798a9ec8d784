#include "kernels/cpu/attention_mass.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/parallel_for.h"
#include "kernels/cpu/simd.h"
#include "core/error.h"

namespace slkv::cpu {
namespace {

using simd::kLanes;

// Below this many multiply-adds one thread does it all (fork/join overhead).
constexpr int64_t kMinParallelWork = 256 * 1024;

// Keys per work item of key_attention_mass: each item owns its slice of
// key_mass, so threads never write the same element.
constexpr int64_t kKeyBlock = 256;

struct Geometry {
  int64_t head_dim, group, token_stride;
  float scale;
};

Geometry check(const AttentionShape& shape, std::span<const KvSpan> kv, int64_t n_queries, int64_t first_query_key,
               int64_t& total) {
  SLKV_CHECK(shape.n_heads > 0 && shape.n_kv_heads > 0 && shape.n_heads % shape.n_kv_heads == 0,
             "attention heads " << shape.n_heads << " / kv heads " << shape.n_kv_heads);
  SLKV_CHECK(shape.head_dim > 0, "head_dim " << shape.head_dim);
  total = 0;
  for (const KvSpan& span : kv) total += span.n_tokens;
  SLKV_CHECK(
      n_queries >= 0 && first_query_key >= 0 && first_query_key + n_queries <= total,
      "queries at keys " << first_query_key << ".." << first_query_key + n_queries << " but " << total << " keys");
  return {shape.head_dim, shape.n_heads / shape.n_kv_heads, shape.n_kv_heads * shape.head_dim, shape.scale};
}

// probabilities[j - begin] = exp(scale * q.k_j - lse) for keys [begin, end)
// of the kv head at head_offset, walking the spans of kv.
void key_probabilities(const float* q, float lse, std::span<const KvSpan> kv, const Geometry& g, int64_t head_offset,
                       int64_t begin, int64_t end, float* probabilities) {
  int64_t span_start = 0;
  for (const KvSpan& span : kv) {
    const int64_t span_end = span_start + span.n_tokens;
    for (int64_t j = std::max(begin, span_start); j < std::min(end, span_end); ++j)
      probabilities[j - begin] =
          g.scale * simd::dot(q, span.keys + (j - span_start) * g.token_stride + head_offset, g.head_dim) - lse;
    span_start = span_end;
    if (span_start >= end) break;
  }
  for (int64_t i = 0; i < end - begin; i += kLanes) {
    const __mmask16 mask = end - begin - i >= kLanes ? __mmask16(0xffff) : simd::tail_mask(end - begin - i);
    _mm512_mask_storeu_ps(probabilities + i, mask, simd::exp(_mm512_maskz_loadu_ps(mask, probabilities + i)));
  }
}

double sum(const float* values, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += values[i];
  return total;
}

}  // namespace

double window_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                             std::span<const KvSpan> kv, const AttentionShape& shape, int64_t sink, int64_t recent,
                             int n_threads) {
  int64_t total = 0;
  const Geometry g = check(shape, kv, n_queries, first_query_key, total);
  SLKV_CHECK(sink >= 0 && recent >= 0, "windows sink " << sink << " recent " << recent);
  const int64_t n_items = n_queries * shape.n_heads;  // (query, head) pairs
  const int64_t window = std::min(sink + recent, total);
  // Per-pair masses, summed in order below: the same result for any thread count.
  std::vector<double> item_mass(static_cast<size_t>(n_items));

  const int64_t work = n_items * window * g.head_dim;
  parallel_for(n_items, work < kMinParallelWork ? 1 : n_threads, [&](int64_t item) {
    thread_local std::vector<float> probabilities;
    probabilities.resize(size_t(window));
    const int64_t visible = first_query_key + item / shape.n_heads + 1;
    const int64_t head_offset = (item % shape.n_heads) / g.group * g.head_dim;
    const float* query = q + item * g.head_dim;
    // The union of [0, sink) and the last `recent` visible keys, each key once.
    const int64_t sink_end = std::min(sink, visible);
    const int64_t recent_begin = std::max(visible - recent, sink_end);
    key_probabilities(query, lse[item], kv, g, head_offset, 0, sink_end, probabilities.data());
    double mass = sum(probabilities.data(), sink_end);
    key_probabilities(query, lse[item], kv, g, head_offset, recent_begin, visible, probabilities.data());
    mass += sum(probabilities.data(), visible - recent_begin);
    item_mass[size_t(item)] = mass;
  });

  double mass = 0;
  for (double m : item_mass) mass += m;
  return mass;
}

void key_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                        std::span<const KvSpan> kv, const AttentionShape& shape, float* key_mass, int n_threads) {
  int64_t total = 0;
  const Geometry g = check(shape, kv, n_queries, first_query_key, total);
  const int64_t n_blocks = (total + kKeyBlock - 1) / kKeyBlock;
  const int64_t n_items = shape.n_kv_heads * n_blocks;  // (kv head, block of keys) pairs

  const int64_t work = n_queries * shape.n_heads * total * g.head_dim;
  parallel_for(n_items, work < kMinParallelWork ? 1 : n_threads, [&](int64_t item) {
    const int64_t kv_head = item / n_blocks;
    const int64_t begin = item % n_blocks * kKeyBlock;
    const int64_t end = std::min(begin + kKeyBlock, total);
    float block_mass[kKeyBlock] = {};
    float probabilities[kKeyBlock];
    for (int64_t i = 0; i < n_queries; ++i) {
      const int64_t visible_end = std::min(end, first_query_key + i + 1);
      if (visible_end <= begin) continue;  // causal: this query sees none of the block
      for (int64_t h = kv_head * g.group; h < (kv_head + 1) * g.group; ++h) {
        const int64_t pair = i * shape.n_heads + h;
        key_probabilities(q + pair * g.head_dim, lse[pair], kv, g, kv_head * g.head_dim, begin, visible_end,
                          probabilities);
        for (int64_t j = 0; j < visible_end - begin; ++j) block_mass[j] += probabilities[j];
      }
    }
    float* out = key_mass + kv_head * total + begin;
    for (int64_t j = 0; j < end - begin; ++j) out[j] += block_mass[j];
  });
}

}  // namespace slkv::cpu
