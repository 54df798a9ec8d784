#include "kernels/cpu/attention_tiled.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/parallel_for.h"
#include "kernels/cpu/simd.h"

namespace slkv::cpu {
namespace {

using simd::kLanes;

constexpr int64_t kBlock = kLanes;               // keys per online-softmax step: one score vector
constexpr int64_t kKeyChunk = 1024;              // keys gathered at a time (a multiple of kBlock)
constexpr int64_t kQuerySlice = 4 * kQueryTile;  // queries of one KV head per work item
// Floats between rows of the transposed keys: one 64-byte line more than a
// chunk, since a 4 KiB stride would put every row in the same L1 set (the
// score loop reads head_dim rows per block; measured 3-4x slower).
constexpr int64_t kKeysRowStride = kKeyChunk + kLanes;
constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// A work item's memory, reused across items on the same thread: a chunk of
// one KV head's keys (transposed) and values, and the running softmax state
// of the item's rows (query, head), kQueryTile-aligned per head.
struct Scratch {
  std::vector<float> keys_t;  // [head_dim][kKeysRowStride]
  std::vector<float> values;  // [kKeyChunk][padded_dim], dims past head_dim zero
  std::vector<float> acc;     // [rows][padded_dim]: sum of p * v, not yet divided by sum
  std::vector<float> max;     // [rows]: largest score so far
  std::vector<float> sum;     // [rows]: sum of exp(score - max)
};

// Keys [first, first + count) of `kv_head` into the scratch chunk; the rest
// of the last block is zero (its scores are masked, its values weigh 0).
void gather_chunk(std::span<const KvSpan> kv, int64_t kv_head, int64_t first, int64_t count, const AttentionShape& shape,
                  int64_t padded_dim, Scratch& s) {
  const int64_t head_dim = shape.head_dim;
  const int64_t token_stride = shape.n_kv_heads * head_dim;
  int64_t j = 0;          // position in the chunk
  int64_t span_first = 0;  // sequence index of the span's first key
  for (const KvSpan& span : kv) {
    const int64_t begin = std::max(first + j, span_first);
    const int64_t end = std::min(first + count, span_first + span.n_tokens);
    for (int64_t i = begin; i < end; ++i, ++j) {
      const float* key = span.keys + (i - span_first) * token_stride + kv_head * head_dim;
      const float* value = span.values + (i - span_first) * token_stride + kv_head * head_dim;
      for (int64_t d = 0; d < head_dim; ++d) s.keys_t[size_t(d * kKeysRowStride + j)] = key[d];
      float* row = s.values.data() + j * padded_dim;
      std::copy(value, value + head_dim, row);
      std::fill(row + head_dim, row + padded_dim, 0.f);
    }
    span_first += span.n_tokens;
    if (j == count) break;
  }
  for (; j < round_up(count, kBlock); ++j) {
    for (int64_t d = 0; d < head_dim; ++d) s.keys_t[size_t(d * kKeysRowStride + j)] = 0.f;
    std::fill(s.values.data() + j * padded_dim, s.values.data() + (j + 1) * padded_dim, 0.f);
  }
}

// One tile of kQueryTile rows against the chunk's keys [chunk_first,
// chunk_first + chunk_count). q_tile holds the rows' scaled queries;
// visible[t] is how many keys of the sequence row t sees (0 for padding
// rows). acc/max/sum point at the tile's first row. NV = head_dim in
// vectors of 16, so the accumulators stay in registers.
template <int NV>
void attend_tile(const float* q_tile, const int64_t* visible, int64_t chunk_first, int64_t chunk_count,
                 const Scratch& s, int64_t head_dim, float* acc, float* max, float* sum) {
  constexpr int64_t padded = NV * kLanes;
  int64_t tile_visible = 0;
  for (int64_t t = 0; t < kQueryTile; ++t) tile_visible = std::max(tile_visible, visible[t]);
  const int64_t n_keys = std::min(chunk_count, tile_visible - chunk_first);

  for (int64_t block = 0; block < n_keys; block += kBlock) {
    // Scores: one key row of the transposed chunk times a broadcast query
    // element per row, 16 keys per vector.
    __m512 scores[kQueryTile];
    for (int64_t t = 0; t < kQueryTile; ++t) scores[t] = _mm512_setzero_ps();
    const float* keys_t = s.keys_t.data() + block;
    for (int64_t d = 0; d < head_dim; ++d) {
      const __m512 k = _mm512_loadu_ps(keys_t + d * kKeysRowStride);
      for (int64_t t = 0; t < kQueryTile; ++t)
        scores[t] = _mm512_fmadd_ps(_mm512_set1_ps(q_tile[t * head_dim + d]), k, scores[t]);
    }

    // Online softmax per row; a larger maximum rescales what came before.
    alignas(64) float p[kQueryTile][kBlock];
    for (int64_t t = 0; t < kQueryTile; ++t) {
      const int64_t valid = visible[t] - (chunk_first + block);
      if (valid <= 0) {
        _mm512_store_ps(p[t], _mm512_setzero_ps());
        continue;
      }
      __m512 row = scores[t];
      if (valid < kBlock) row = _mm512_mask_mov_ps(_mm512_set1_ps(kMinusInfinity), simd::tail_mask(valid), row);
      const float block_max = _mm512_reduce_max_ps(row);
      if (block_max > max[t]) {
        const float correction = std::exp(max[t] - block_max);  // 0 on the first block
        const __m512 c = _mm512_set1_ps(correction);
        for (int v = 0; v < NV; ++v) {
          float* a = acc + t * padded + v * kLanes;
          _mm512_storeu_ps(a, _mm512_mul_ps(_mm512_loadu_ps(a), c));
        }
        sum[t] *= correction;
        max[t] = block_max;
      }
      const __m512 e = simd::exp(_mm512_sub_ps(row, _mm512_set1_ps(max[t])));  // masked lanes: exp(-inf) = 0
      sum[t] += _mm512_reduce_add_ps(e);
      _mm512_store_ps(p[t], e);
    }

    // acc += p v: each value vector loaded once for the whole tile.
    const float* values = s.values.data() + block * padded;
    const int64_t block_keys = std::min(kBlock, n_keys - block);
    for (int v = 0; v < NV; ++v) {
      __m512 a[kQueryTile];
      for (int64_t t = 0; t < kQueryTile; ++t) a[t] = _mm512_loadu_ps(acc + t * padded + v * kLanes);
      for (int64_t j = 0; j < block_keys; ++j) {
        const __m512 value = _mm512_loadu_ps(values + j * padded + v * kLanes);
        for (int64_t t = 0; t < kQueryTile; ++t) a[t] = _mm512_fmadd_ps(_mm512_set1_ps(p[t][j]), value, a[t]);
      }
      for (int64_t t = 0; t < kQueryTile; ++t) _mm512_storeu_ps(acc + t * padded + v * kLanes, a[t]);
    }
  }
}

using TileKernel = void (*)(const float*, const int64_t*, int64_t, int64_t, const Scratch&, int64_t, float*, float*,
                            float*);

template <size_t... I>
constexpr std::array<TileKernel, sizeof...(I)> make_tile_kernels(std::index_sequence<I...>) {
  return {&attend_tile<int(I) + 1>...};
}

// kTileKernels[NV - 1] handles head_dim in (16 (NV - 1), 16 NV].
constexpr auto kTileKernels = make_tile_kernels(std::make_index_sequence<kMaxAttentionHeadDim / kLanes>());

// Everything attention_tiled() needs to run one work item.
struct Problem {
  const float* q;
  int64_t n_queries;
  std::span<const KvSpan> kv;
  AttentionShape shape;
  float* out;
  float* lse;
  int64_t total;  // keys in the sequence, the new ones included
};

// Queries [q_begin, q_end) of every head of KV head `kv_head`.
void run_item(const Problem& pb, int64_t kv_head, int64_t q_begin, int64_t q_end) {
  const AttentionShape& shape = pb.shape;
  const int64_t head_dim = shape.head_dim;
  const int64_t n_vectors = (head_dim + kLanes - 1) / kLanes;
  const int64_t padded = n_vectors * kLanes;
  const TileKernel kernel = kTileKernels[size_t(n_vectors - 1)];
  const int64_t group = shape.n_heads / shape.n_kv_heads;
  const int64_t slice_rows = round_up(q_end - q_begin, kQueryTile);  // rows per head, padded to whole tiles
  const int64_t rows = group * slice_rows;
  const int64_t first_visible = pb.total - pb.n_queries + 1;  // keys the first query sees

  thread_local Scratch s;
  s.keys_t.resize(size_t(head_dim * kKeysRowStride));
  s.values.resize(size_t(kKeyChunk * padded));
  s.acc.assign(size_t(rows * padded), 0.f);
  s.max.assign(size_t(rows), kMinusInfinity);
  s.sum.assign(size_t(rows), 0.f);

  const int64_t keys_needed = first_visible + q_end - 1;
  for (int64_t chunk_first = 0; chunk_first < keys_needed; chunk_first += kKeyChunk) {
    const int64_t chunk_count = std::min(kKeyChunk, keys_needed - chunk_first);
    gather_chunk(pb.kv, kv_head, chunk_first, chunk_count, shape, padded, s);
    for (int64_t g = 0; g < group; ++g) {
      const int64_t head = kv_head * group + g;
      for (int64_t tile = q_begin; tile < q_end; tile += kQueryTile) {
        alignas(64) float q_tile[kQueryTile * kMaxAttentionHeadDim];
        int64_t visible[kQueryTile];
        for (int64_t t = 0; t < kQueryTile; ++t) {
          const int64_t query = tile + t;
          float* dst = q_tile + t * head_dim;
          if (query < q_end) {
            const float* src = pb.q + (query * shape.n_heads + head) * head_dim;
            for (int64_t d = 0; d < head_dim; ++d) dst[d] = src[d] * shape.scale;  // scores come out scaled
            visible[t] = first_visible + query;
          } else {
            std::fill(dst, dst + head_dim, 0.f);
            visible[t] = 0;
          }
        }
        const int64_t row = g * slice_rows + (tile - q_begin);
        kernel(q_tile, visible, chunk_first, chunk_count, s, head_dim, s.acc.data() + row * padded, s.max.data() + row,
               s.sum.data() + row);
      }
    }
  }

  for (int64_t g = 0; g < group; ++g) {
    const int64_t head = kv_head * group + g;
    for (int64_t query = q_begin; query < q_end; ++query) {
      const int64_t row = g * slice_rows + (query - q_begin);
      const float inv = 1.f / s.sum[size_t(row)];
      const float* a = s.acc.data() + row * padded;
      float* o = pb.out + (query * shape.n_heads + head) * head_dim;
      for (int64_t d = 0; d < head_dim; ++d) o[d] = a[d] * inv;
      if (pb.lse) pb.lse[query * shape.n_heads + head] = s.max[size_t(row)] + std::log(s.sum[size_t(row)]);
    }
  }
}

}  // namespace

void attention_tiled(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape,
                     float* out, float* lse, int n_threads) {
  int64_t total = 0;
  for (const KvSpan& span : kv) total += span.n_tokens;
  const Problem problem{q, n_queries, kv, shape, out, lse, total};
  const int64_t n_slices = (n_queries + kQuerySlice - 1) / kQuerySlice;
  const int64_t n_items = n_slices * shape.n_kv_heads;
  // Later slices see more keys: they go first, so the dynamic schedule ends
  // on short items.
  auto run = [&](int64_t item) {
    const int64_t slice = n_slices - 1 - item / shape.n_kv_heads;
    const int64_t q_begin = slice * kQuerySlice;
    run_item(problem, item % shape.n_kv_heads, q_begin, std::min(n_queries, q_begin + kQuerySlice));
  };
  parallel_for_dynamic(n_items, n_threads, run);
}

}  // namespace slkv::cpu
