// Window and key attention masses. The window mass scores few keys per query:
// a block per (query, head), a warp per key with lanes across head_dim. The
// key mass scores every visible key: a block per (32 keys, KV head) stages
// its keys in shared memory and lane j scores key j against every row.
#include "kernels/cuda/attention_mass_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"

namespace slkv::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kKeyTile = kWarpSize;
constexpr int kSumThreads = 256;

struct Params {
  ObservedQueries queries;
  KvSpanTable kv;
  int64_t n_heads, head_dim, group, token_stride;
  float scale;
};

Params make_params(const ObservedQueries& queries, const KvSpanTable& kv, const AttentionGeometry& geometry) {
  Params p{};
  p.queries = queries;
  p.kv = kv;
  p.n_heads = geometry.n_heads;
  p.head_dim = geometry.head_dim;
  p.group = geometry.n_heads / geometry.n_kv_heads;
  p.token_stride = geometry.n_kv_heads * geometry.head_dim;
  p.scale = geometry.scale;
  return p;
}

// Key `key` of kv head `kv_head`: its head_dim floats.
__device__ __forceinline__ const float* key_row(const Params& p, int64_t kv_head, int64_t key) {
  const DeviceKvSpan span = p.kv.spans[find_span(p.kv, key)];
  return span.keys + (key - span.start) * p.token_stride + kv_head * p.head_dim;
}

// One block per (query, head) item: the mass on [0, sink_end) and
// [recent_begin, visible), each key once, as in the CPU kernel.
__global__ void __launch_bounds__(kThreads)
    window_mass_kernel(const Params p, int64_t sink, int64_t recent, double* item_mass) {
  __shared__ double warp_mass[kWarps];
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int64_t item = blockIdx.x;
  const int64_t query = item / p.n_heads;
  const int64_t kv_head = item % p.n_heads / p.group;
  const int64_t visible = p.queries.first_query_key + query + 1;
  const int64_t sink_end = min(sink, visible);
  const int64_t recent_begin = max(visible - recent, sink_end);
  const int64_t n_window = sink_end + (visible - recent_begin);
  const float* q = p.queries.q + item * p.head_dim;
  const float lse = p.queries.lse[item];

  double mass = 0.0;  // the same in every lane of the warp
  for (int64_t w = warp; w < n_window; w += kWarps) {
    const int64_t key = w < sink_end ? w : recent_begin + (w - sink_end);
    const float* k = key_row(p, kv_head, key);
    float dot = 0.f;
    for (int64_t d = lane; d < p.head_dim; d += kWarpSize) dot += q[d] * k[d];
    dot = warp_sum(dot);
    mass += double(expf(p.scale * dot - lse));
  }
  if (lane == 0) warp_mass[warp] = mass;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < kWarps; ++w) total += warp_mass[w];
    item_mass[item] = total;
  }
}

// One block: *total = sum of values, in a fixed order.
__global__ void __launch_bounds__(kSumThreads) sum_kernel(const double* values, int64_t n, double* total) {
  __shared__ double partial[kSumThreads];
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kSumThreads) sum += values[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kSumThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) *total = partial[0];
}

__global__ void __launch_bounds__(kThreads) key_mass_kernel(const Params p, float* key_mass) {
  constexpr int kDim = int(kMaxAttentionHeadDim);
  __shared__ float k_tile[kKeyTile][kDim + 1];  // +1: lane j reads row j, conflict-free
  __shared__ float warp_mass[kWarps][kKeyTile];
  __shared__ const float* key_rows[kKeyTile];
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int64_t kv_head = blockIdx.y;
  const int64_t tile = int64_t(blockIdx.x) * kKeyTile;
  const int64_t total = p.kv.total;

  if (threadIdx.x < kKeyTile) {
    const int64_t key = tile + threadIdx.x;
    key_rows[threadIdx.x] = key < total ? key_row(p, kv_head, key) : nullptr;
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < kKeyTile * kDim; idx += kThreads) {
    const int j = idx / kDim, d = idx % kDim;
    const float* k = key_rows[j];
    k_tile[j][d] = k != nullptr && d < p.head_dim ? k[d] : 0.f;
  }
  __syncthreads();

  // Rows are (query, head of the group) pairs, spread over the warps.
  const int64_t key = tile + lane;
  const int64_t n_rows = p.queries.n_queries * p.group;
  float mass = 0.f;
  for (int64_t row = warp; row < n_rows; row += kWarps) {
    const int64_t query = row / p.group;
    const int64_t visible_end = p.queries.first_query_key + query + 1;
    if (tile >= visible_end) continue;  // causal: the query sees no key of the tile (uniform over the warp)
    const int64_t item = query * p.n_heads + kv_head * p.group + row % p.group;
    const float* q = p.queries.q + item * p.head_dim;
    float dot = 0.f;
    for (int64_t d = 0; d < p.head_dim; ++d) dot += __ldg(q + d) * k_tile[lane][d];  // q[d]: one broadcast load
    if (key < visible_end) mass += expf(p.scale * dot - __ldg(p.queries.lse + item));
  }
  warp_mass[warp][lane] = mass;
  __syncthreads();
  if (threadIdx.x < kKeyTile && tile + threadIdx.x < total) {
    float sum = 0.f;
    for (int w = 0; w < kWarps; ++w) sum += warp_mass[w][threadIdx.x];
    key_mass[kv_head * total + tile + threadIdx.x] += sum;
  }
}

}  // namespace

void launch_window_attention_mass(const ObservedQueries& queries, const KvSpanTable& kv,
                                  const AttentionGeometry& geometry, int64_t sink, int64_t recent, double* item_mass,
                                  double* total, cudaStream_t stream) {
  const Params p = make_params(queries, kv, geometry);
  const int64_t n_items = queries.n_queries * geometry.n_heads;
  if (n_items > 0) {
    window_mass_kernel<<<unsigned(n_items), kThreads, 0, stream>>>(p, sink, recent, item_mass);
    CUDA_CHECK_LAUNCH();
  }
  sum_kernel<<<1, kSumThreads, 0, stream>>>(item_mass, n_items, total);  // 0 items give 0
  CUDA_CHECK_LAUNCH();
}

void launch_key_attention_mass(const ObservedQueries& queries, const KvSpanTable& kv,
                               const AttentionGeometry& geometry, float* key_mass, cudaStream_t stream) {
  if (kv.total == 0 || queries.n_queries == 0) return;
  const Params p = make_params(queries, kv, geometry);
  const dim3 grid(unsigned((kv.total + kKeyTile - 1) / kKeyTile), unsigned(geometry.n_kv_heads));
  key_mass_kernel<<<grid, kThreads, 0, stream>>>(p, key_mass);
  CUDA_CHECK_LAUNCH();
}

}  // namespace slkv::cuda
