// Flash attention in fp32 for prefill and decode.
//
// A block takes 16 query rows that share one KV head (row = (query, query head
// of the group), so GQA reuses every key tile for the whole group) and one
// range of keys (the whole causal range, or one split of it). Per tile of 32
// keys it stages keys and values in shared memory; then each warp handles 4
// rows: lane j scores key j against the warp's rows, the online softmax
// rescales, and the outputs (lane l owns head dimensions l, l + 32, ...)
// accumulate probability-weighted values broadcast lane by lane.
#include "kernels/cuda/attention_kernels.h"

#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"

namespace slkv::cuda {
namespace {

constexpr int kRowWarps = 4;
constexpr int kThreads = kRowWarps * kWarpSize;
constexpr int kRowsPerWarp = 4;
constexpr int kRowsPerBlock = kRowWarps * kRowsPerWarp;
constexpr int kKeyTile = kWarpSize;  // one key per lane when scoring
constexpr int64_t kMinSplitKeys = 256;
constexpr int kMaxSplits = 64;

using Params = AttentionParams;

// Row r of a block -> (query, head) item index in q/out/lse.
__device__ __forceinline__ int64_t item_of(const Params& p, int64_t kv_head, int64_t pair) {
  return pair / p.group * p.n_heads + kv_head * p.group + pair % p.group;
}

// One block's work: query rows row_block * kRowsPerBlock.. of KV head
// blockIdx.y, over split `split` of the keys.
template <int kChunks>
__device__ __forceinline__ void attend(const Params& p, int64_t row_block, int split) {
  constexpr int kDim = kChunks * kWarpSize;  // head_dim rounded up to whole warps; the padding is zero
  __shared__ float q_tile[kRowsPerBlock][kDim];
  __shared__ float k_tile[kKeyTile][kDim + 1];  // +1: lane j reads row j, conflict-free
  __shared__ float v_tile[kKeyTile][kDim];
  __shared__ const float* key_rows[kKeyTile];
  __shared__ const float* value_rows[kKeyTile];

  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int64_t kv_head = blockIdx.y;
  const int64_t n_pairs = p.n_queries * p.group;
  const int64_t first_pair = row_block * kRowsPerBlock;
  const int64_t first_query_key = p.kv.total - p.n_queries;  // query i sees keys [0, first_query_key + i]

  // Queries, pre-scaled so that scores come out scaled (as the CPU kernel does).
  for (int idx = threadIdx.x; idx < kRowsPerBlock * kDim; idx += kThreads) {
    const int r = idx / kDim, d = idx % kDim;
    const int64_t pair = first_pair + r;
    float value = 0.f;
    if (pair < n_pairs && d < p.head_dim) value = p.q[item_of(p, kv_head, pair) * p.head_dim + d] * p.scale;
    q_tile[r][d] = value;
  }

  // This block's keys: its split, cut at what its last query sees.
  const int64_t last_pair = min(first_pair + kRowsPerBlock, n_pairs) - 1;
  const int64_t block_visible = first_query_key + last_pair / p.group + 1;
  const int64_t key_begin = int64_t(split) * p.split_keys;
  const int64_t key_end = min(key_begin + p.split_keys, block_visible);

  float row_max[kRowsPerWarp], row_sum[kRowsPerWarp], acc[kRowsPerWarp][kChunks];
  int64_t row_visible[kRowsPerWarp];  // keys the row sees; 0 for padding rows
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t pair = first_pair + warp * kRowsPerWarp + r;
    row_visible[r] = pair < n_pairs ? first_query_key + pair / p.group + 1 : 0;
    row_max[r] = -CUDART_INF_F;
    row_sum[r] = 0.f;  // this lane's share of the softmax normaliser
    for (int c = 0; c < kChunks; ++c) acc[r][c] = 0.f;
  }

  int span_index = -1;  // threads < kKeyTile: the span of their key in the previous tile
  for (int64_t tile = key_begin; tile < key_end; tile += kKeyTile) {
    __syncthreads();  // the previous tile is consumed (and q_tile written, the first time)
    if (threadIdx.x < kKeyTile) {
      const int64_t key = tile + threadIdx.x;
      const float* k_row = nullptr;
      const float* v_row = nullptr;
      if (key < key_end) {
        // Keys only move forward: walk on from the last span, search only the first time.
        if (span_index < 0)
          span_index = find_span(p.kv, key);
        else
          while (span_index + 1 < p.kv.n_spans && p.kv.spans[span_index + 1].start <= key) ++span_index;
        const DeviceKvSpan span = p.kv.spans[span_index];
        const int64_t offset = (key - span.start) * p.token_stride + kv_head * p.head_dim;
        k_row = span.keys + offset;
        v_row = span.values + offset;
      }
      key_rows[threadIdx.x] = k_row;
      value_rows[threadIdx.x] = v_row;
    }
    __syncthreads();
    // A fixed trip count, fully unrolled, so the loads of a thread are all in flight at once.
    static_assert(kKeyTile * kDim % kThreads == 0, "whole loads per thread");
#pragma unroll
    for (int step = 0; step < kKeyTile * kDim / kThreads; ++step) {
      const int idx = step * kThreads + threadIdx.x;
      const int j = idx / kDim, d = idx % kDim;
      const float* k_row = key_rows[j];
      const bool present = k_row != nullptr && d < p.head_dim;
      k_tile[j][d] = present ? k_row[d] : 0.f;
      v_tile[j][d] = present ? value_rows[j][d] : 0.f;
    }
    __syncthreads();

    // Scores of key tile + lane against the warp's rows.
    float score[kRowsPerWarp] = {};
#pragma unroll 8
    for (int d = 0; d < kDim; ++d) {
      const float k = k_tile[lane][d];
      for (int r = 0; r < kRowsPerWarp; ++r) score[r] += q_tile[warp * kRowsPerWarp + r][d] * k;
    }

    // Online softmax, row by row; every branch below is uniform over the warp.
    const int64_t key = tile + lane;
    float prob[kRowsPerWarp];
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const bool visible = key < key_end && key < row_visible[r];
      const float s = visible ? score[r] : -CUDART_INF_F;
      const float tile_max = warp_max(s);
      prob[r] = 0.f;
      if (tile_max == -CUDART_INF_F) continue;  // the row sees none of these keys (or is padding)
      const float new_max = fmaxf(row_max[r], tile_max);
      const float correction = expf(row_max[r] - new_max);  // 0 for the row's first keys
      prob[r] = visible ? expf(s - new_max) : 0.f;
      row_sum[r] = row_sum[r] * correction + prob[r];
      row_max[r] = new_max;
      for (int c = 0; c < kChunks; ++c) acc[r][c] *= correction;
    }

    // acc += sum over the tile's keys of prob * value, prob broadcast from the key's lane.
    const int n_tile = int(min(int64_t(kKeyTile), key_end - tile));
    for (int j = 0; j < n_tile; ++j) {
      float p_j[kRowsPerWarp];
      for (int r = 0; r < kRowsPerWarp; ++r) p_j[r] = __shfl_sync(kFullMask, prob[r], j);
      for (int c = 0; c < kChunks; ++c) {
        const float v = v_tile[j][lane + c * kWarpSize];
        for (int r = 0; r < kRowsPerWarp; ++r) acc[r][c] += p_j[r] * v;
      }
    }
  }

  const int64_t n_items = p.n_queries * p.n_heads;
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t pair = first_pair + warp * kRowsPerWarp + r;
    if (pair >= n_pairs) continue;  // uniform over the warp
    const float sum = warp_sum(row_sum[r]);
    const int64_t item = item_of(p, kv_head, pair);
    if (p.n_splits == 1) {
      const float inv = 1.f / sum;  // sum > 0: every row sees key 0
      for (int c = 0; c < kChunks; ++c) {
        const int64_t d = lane + c * kWarpSize;
        if (d < p.head_dim) p.out[item * p.head_dim + d] = acc[r][c] * inv;
      }
      if (lane == 0 && p.lse) p.lse[item] = row_max[r] + logf(sum);
    } else {
      // A row that saw no key of this split leaves max -inf, sum 0, output 0.
      const int64_t slot = int64_t(split) * n_items + item;
      for (int c = 0; c < kChunks; ++c) {
        const int64_t d = lane + c * kWarpSize;
        if (d < p.head_dim) p.partial_out[slot * p.head_dim + d] = acc[r][c];
      }
      if (lane == 0) {
        p.partial_max[slot] = row_max[r];
        p.partial_sum[slot] = sum;
      }
    }
  }
}

template <int kChunks>
__global__ void __launch_bounds__(kThreads) attention_kernel(const Params p) {
  attend<kChunks>(p, blockIdx.x, int(blockIdx.z));
}

// A batch of calls with the same row count: blockIdx.x = job * row_blocks +
// row block; a job with fewer splits than the grid leaves the extra blocks idle.
template <int kChunks>
__global__ void __launch_bounds__(kThreads) attention_jobs_kernel(const Params* jobs, int64_t row_blocks) {
  const Params p = jobs[blockIdx.x / row_blocks];  // a copy: read once, not through global memory each time
  if (int(blockIdx.z) >= p.n_splits) return;
  attend<kChunks>(p, blockIdx.x % row_blocks, int(blockIdx.z));
}

// Output element idx of one call: merges the splits' partials, weights
// exp(max_s - max) bringing every split to the common maximum.
__device__ __forceinline__ void combine_element(const Params& p, int64_t idx) {
  const int64_t n_items = p.n_queries * p.n_heads;
  const int64_t item = idx / p.head_dim;
  const int64_t d = idx % p.head_dim;
  float max = -CUDART_INF_F;
  for (int s = 0; s < p.n_splits; ++s) max = fmaxf(max, p.partial_max[s * n_items + item]);
  float sum = 0.f, value = 0.f;
  for (int s = 0; s < p.n_splits; ++s) {
    const int64_t slot = s * n_items + item;
    const float split_max = p.partial_max[slot];
    if (split_max == -CUDART_INF_F) continue;
    const float weight = expf(split_max - max);
    sum += weight * p.partial_sum[slot];
    value += weight * p.partial_out[slot * p.head_dim + d];
  }
  p.out[idx] = value / sum;
  if (d == 0 && p.lse) p.lse[item] = max + logf(sum);
}

// One thread per output element.
__global__ void combine_kernel(const Params p) {
  const int64_t n = p.n_queries * p.n_heads * p.head_dim;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x)
    combine_element(p, idx);
}

// The same over a batch of calls with `per_job` output elements each; jobs
// that ran unsplit wrote their output directly.
__global__ void combine_jobs_kernel(const Params* jobs, int64_t n_jobs, int64_t per_job) {
  const int64_t n = n_jobs * per_job;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const Params& p = jobs[idx / per_job];
    if (p.n_splits > 1) combine_element(p, idx % per_job);
  }
}

template <int kChunks>
void launch_chunks(const Params& p, dim3 grid, cudaStream_t stream) {
  attention_kernel<kChunks><<<grid, kThreads, 0, stream>>>(p);
  CUDA_CHECK_LAUNCH();
}

template <int kChunks>
void launch_jobs_chunks(const Params* jobs, int64_t row_blocks, dim3 grid, cudaStream_t stream) {
  attention_jobs_kernel<kChunks><<<grid, kThreads, 0, stream>>>(jobs, row_blocks);
  CUDA_CHECK_LAUNCH();
}

// Calls launch(std::integral_constant<int, kChunks>) for head_dim's count of
// 32-wide chunks, the kernels' template parameter.
template <typename Launch>
void with_chunks(int64_t head_dim, const char* caller, Launch launch) {
  switch ((head_dim + kWarpSize - 1) / kWarpSize) {
    case 1: launch(std::integral_constant<int, 1>{}); break;
    case 2: launch(std::integral_constant<int, 2>{}); break;
    case 3: launch(std::integral_constant<int, 3>{}); break;
    case 4: launch(std::integral_constant<int, 4>{}); break;
    default: ::slkv::cuda_fail(caller, "head_dim above kMaxAttentionHeadDim", __FILE__, __LINE__);
  }
}

int64_t row_blocks_of(int64_t n_queries, const AttentionGeometry& geometry) {
  return (n_queries * (geometry.n_heads / geometry.n_kv_heads) + kRowsPerBlock - 1) / kRowsPerBlock;
}

}  // namespace

AttentionPlan plan_attention(int64_t n_queries, const KvSpanTable& kv, const AttentionGeometry& geometry, int sm_count,
                             int64_t concurrent_calls) {
  const int64_t blocks =
      row_blocks_of(n_queries, geometry) * geometry.n_kv_heads * std::max<int64_t>(concurrent_calls, 1);
  const int64_t target = 2 * int64_t(std::max(sm_count, 1));
  const int64_t max_splits = std::clamp<int64_t>((kv.total + kMinSplitKeys - 1) / kMinSplitKeys, 1, kMaxSplits);
  int64_t n_splits = blocks >= target ? 1 : std::min((target + blocks - 1) / blocks, max_splits);
  AttentionPlan plan;
  const int64_t keys_per_split = (kv.total + n_splits - 1) / n_splits;
  plan.split_keys = (keys_per_split + kKeyTile - 1) / kKeyTile * kKeyTile;
  n_splits = (kv.total + plan.split_keys - 1) / plan.split_keys;  // rounding up the split may leave fewer
  plan.n_splits = int(n_splits);
  if (n_splits > 1)
    plan.scratch_bytes =
        size_t(n_splits) * size_t(n_queries * geometry.n_heads) * size_t(geometry.head_dim + 2) * sizeof(float);
  return plan;
}

AttentionParams make_attention_params(const float* q, int64_t n_queries, const KvSpanTable& kv,
                                      const AttentionGeometry& geometry, const AttentionPlan& plan, void* scratch,
                                      float* out, float* lse) {
  Params p{};
  p.q = q;
  p.out = out;
  p.lse = lse;
  p.kv = kv;
  p.n_queries = n_queries;
  p.n_heads = geometry.n_heads;
  p.head_dim = geometry.head_dim;
  p.group = geometry.n_heads / geometry.n_kv_heads;
  p.token_stride = geometry.n_kv_heads * geometry.head_dim;
  p.scale = geometry.scale;
  p.split_keys = plan.split_keys;
  p.n_splits = plan.n_splits;
  const int64_t n_items = n_queries * geometry.n_heads;
  if (plan.n_splits > 1) {
    p.partial_out = static_cast<float*>(scratch);
    p.partial_max = p.partial_out + plan.n_splits * n_items * geometry.head_dim;
    p.partial_sum = p.partial_max + plan.n_splits * n_items;
  }
  return p;
}

void launch_attention(const float* q, int64_t n_queries, const KvSpanTable& kv, const AttentionGeometry& geometry,
                      const AttentionPlan& plan, void* scratch, float* out, float* lse, cudaStream_t stream) {
  const Params p = make_attention_params(q, n_queries, kv, geometry, plan, scratch, out, lse);
  const dim3 grid(unsigned(row_blocks_of(n_queries, geometry)), unsigned(geometry.n_kv_heads), unsigned(plan.n_splits));
  with_chunks(geometry.head_dim, "launch_attention",
              [&](auto chunks) { launch_chunks<decltype(chunks)::value>(p, grid, stream); });
  if (plan.n_splits > 1) {
    constexpr int kCombineThreads = 256;
    const int64_t n = n_queries * geometry.n_heads * geometry.head_dim;
    combine_kernel<<<grid_stride_blocks(n, kCombineThreads), kCombineThreads, 0, stream>>>(p);
    CUDA_CHECK_LAUNCH();
  }
}

void launch_attention_jobs(const AttentionParams* jobs, int64_t n_jobs, int64_t n_queries,
                           const AttentionGeometry& geometry, int max_splits, cudaStream_t stream) {
  if (n_jobs <= 0) return;
  const int64_t row_blocks = row_blocks_of(n_queries, geometry);
  const dim3 grid(unsigned(n_jobs * row_blocks), unsigned(geometry.n_kv_heads), unsigned(max_splits));
  with_chunks(geometry.head_dim, "launch_attention_jobs",
              [&](auto chunks) { launch_jobs_chunks<decltype(chunks)::value>(jobs, row_blocks, grid, stream); });
  if (max_splits > 1) {
    constexpr int kCombineThreads = 256;
    const int64_t per_job = n_queries * geometry.n_heads * geometry.head_dim;
    combine_jobs_kernel<<<grid_stride_blocks(n_jobs * per_job, kCombineThreads), kCombineThreads, 0, stream>>>(
        jobs, n_jobs, per_job);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace slkv::cuda
