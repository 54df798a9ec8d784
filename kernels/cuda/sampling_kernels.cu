// The token draw, one block per row of logits, by radix selection over
// candidate keys (token_select.h): no sort, and the row is only read.
#include <cfloat>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/sampling_kernels.h"
#include "kernels/cuda/token_select.h"

namespace slkv::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / kWarpSize;
constexpr int kBins = kSelectBins;

struct SelectScratch {
  unsigned count[kBins];
  double weight[kBins];
  uint64_t prefix;  // the chosen key bytes so far, broadcast by thread 0
  double target;    // what remains of the target inside the chosen bin
  float reduce_float[kWarps];
  double reduce_double[kWarps];
  int64_t reduce_id[kWarps];
};

__device__ float block_max(float v, SelectScratch& s) {
  v = warp_max(v);
  if (threadIdx.x % kWarpSize == 0) s.reduce_float[threadIdx.x / kWarpSize] = v;
  __syncthreads();
  float result = s.reduce_float[0];
  for (int w = 1; w < kWarps; ++w) result = fmaxf(result, s.reduce_float[w]);
  __syncthreads();  // the scratch may be reused at once
  return result;
}

__device__ double block_sum(double v, SelectScratch& s) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  if (threadIdx.x % kWarpSize == 0) s.reduce_double[threadIdx.x / kWarpSize] = v;
  __syncthreads();
  double result = 0;
  for (int w = 0; w < kWarps; ++w) result += s.reduce_double[w];
  __syncthreads();
  return result;
}

// (value, id) pairs: the larger value wins, the lower id on ties.
__device__ __forceinline__ bool better(float value, int64_t id, float best, int64_t best_id) {
  return value > best || (value == best && id < best_id);
}

// The lowest id holding the largest value (0 for a row of NaNs).
__device__ int64_t block_argmax(const float* row, int64_t vocab, SelectScratch& s) {
  float best = -CUDART_INF_F;
  int64_t best_id = INT64_MAX;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads)
    if (better(row[i], i, best, best_id)) best = row[i], best_id = i;
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(kFullMask, best, offset);
    const int64_t other_id = __shfl_xor_sync(kFullMask, best_id, offset);
    if (better(other, other_id, best, best_id)) best = other, best_id = other_id;
  }
  if (threadIdx.x % kWarpSize == 0) {
    s.reduce_float[threadIdx.x / kWarpSize] = best;
    s.reduce_id[threadIdx.x / kWarpSize] = best_id;
  }
  __syncthreads();
  best = s.reduce_float[0];
  best_id = s.reduce_id[0];
  for (int w = 1; w < kWarps; ++w)
    if (better(s.reduce_float[w], s.reduce_id[w], best, best_id)) best = s.reduce_float[w], best_id = s.reduce_id[w];
  __syncthreads();
  return best_id == INT64_MAX ? 0 : best_id;
}

// Candidates of one sampled row: z = logit / temperature, weight exp(z - z_max).
struct Row {
  const float* logits;
  int64_t vocab;
  float temperature;
  float z_max;
};

// Sum of the weights of the candidates with key <= limit.
__device__ double kept_weight(const Row& row, uint64_t limit, SelectScratch& s) {
  double sum = 0;
  for (int64_t i = threadIdx.x; i < row.vocab; i += kThreads) {
    const float z = row.logits[i] / row.temperature;
    if (candidate_key(z, i) <= limit) sum += double(expf(z - row.z_max));
  }
  return block_sum(sum, s);
}

// The key of the first candidate (key <= limit, in key order) at which the
// running total of weights (or of counts, when !kWeighted) reaches `target`:
// total >= target when `inclusive`, total > target otherwise. When rounding
// leaves the target out of reach, the last candidate's key.
template <bool kWeighted>
__device__ uint64_t select_key(const Row& row, uint64_t limit, double target, bool inclusive, SelectScratch& s) {
  uint64_t prefix = 0;
  for (int shift = kFirstShift; shift >= 0; shift -= 8) {
    const uint64_t chosen = chosen_mask(shift);
    for (int b = threadIdx.x; b < kBins; b += kThreads) {
      s.count[b] = 0;
      s.weight[b] = 0;
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < row.vocab; i += kThreads) {
      const float z = row.logits[i] / row.temperature;
      const uint64_t key = candidate_key(z, i);
      if (key > limit || (key & chosen) != prefix) continue;
      const int bin = int((key >> shift) & (kBins - 1));
      atomicAdd(&s.count[bin], 1u);
      if (kWeighted) atomicAdd(&s.weight[bin], double(expf(z - row.z_max)));
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      const BinChoice choice = choose_bin(s.count, s.weight, kWeighted, target, inclusive);
      s.prefix = prefix | (uint64_t(choice.bin) << shift);
      s.target = target - choice.before;
    }
    __syncthreads();
    prefix = s.prefix;
    target = s.target;
  }
  return prefix;
}

__global__ void __launch_bounds__(kThreads)
    sample_tokens_kernel(const float* logits, int64_t vocab, const DeviceTokenDraw* draws, int32_t* tokens) {
  __shared__ SelectScratch scratch;
  const float* row_logits = logits + int64_t(blockIdx.x) * vocab;
  const DeviceTokenDraw draw = draws[blockIdx.x];
  if (draw.temperature == 0.f) {
    const int64_t id = block_argmax(row_logits, vocab, scratch);
    if (threadIdx.x == 0) tokens[blockIdx.x] = int32_t(id);
    return;
  }
  Row row{row_logits, vocab, draw.temperature, -CUDART_INF_F};
  float z_max = -CUDART_INF_F;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) z_max = fmaxf(z_max, row_logits[i] / draw.temperature);
  row.z_max = block_max(z_max, scratch);

  uint64_t limit = kAllKeys;  // the kept candidates: key <= limit
  if (draw.top_k > 0 && draw.top_k < vocab) limit = select_key<false>(row, limit, double(draw.top_k), true, scratch);
  double total = kept_weight(row, limit, scratch);
  if (draw.top_p < 1.f) {
    limit = select_key<true>(row, limit, double(draw.top_p) * total, true, scratch);
    total = kept_weight(row, limit, scratch);
  }
  const uint64_t drawn = select_key<true>(row, limit, draw.uniform * total, false, scratch);
  if (threadIdx.x == 0) tokens[blockIdx.x] = int32_t(uint32_t(drawn));
}

}  // namespace

void launch_sample_tokens(const float* logits, int64_t n_rows, int64_t vocab, const DeviceTokenDraw* draws,
                          int32_t* tokens, cudaStream_t stream) {
  if (n_rows <= 0) return;
  sample_tokens_kernel<<<unsigned(n_rows), kThreads, 0, stream>>>(logits, vocab, draws, tokens);
  CUDA_CHECK_LAUNCH();
}

}  // namespace slkv::cuda
