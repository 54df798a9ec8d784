// A read-only streaming kernel timed with CUDA events: every 16-byte word of
// the buffer is loaded once per pass and folded into a per-block XOR that is
// stored, so the compiler cannot drop the loads.
#include "kernels/cuda/device_bandwidth.h"

#include <algorithm>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "core/error.h"

namespace slkv {
namespace {

constexpr int kThreads = 512;
constexpr int kUnroll = 4;  // independent loads in flight per thread
constexpr int kPasses = 5;

__global__ void __launch_bounds__(kThreads) read_kernel(const uint4* data, int64_t words, unsigned* block_xor) {
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  unsigned acc = 0;
  for (; i + (kUnroll - 1) * stride < words; i += kUnroll * stride) {
    uint4 w[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) w[u] = __ldcs(data + i + u * stride);  // streaming: do not keep in L2
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc ^= w[u].x ^ w[u].y ^ w[u].z ^ w[u].w;
  }
  for (; i < words; i += stride) {
    const uint4 w = __ldcs(data + i);
    acc ^= w.x ^ w.y ^ w.z ^ w.w;
  }
  __shared__ unsigned shared_xor;
  if (threadIdx.x == 0) shared_xor = 0;
  __syncthreads();
  atomicXor(&shared_xor, acc);
  __syncthreads();
  if (threadIdx.x == 0) block_xor[blockIdx.x] = shared_xor;
}

}  // namespace

double measure_device_read_bandwidth_gbps(int64_t bytes) {
  SLKV_CHECK(bytes >= int64_t(sizeof(uint4)), "bandwidth buffer of " << bytes << " bytes");
  const int64_t words = bytes / int64_t(sizeof(uint4));
  int device = 0, sm_count = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  const int blocks = std::max(1, sm_count * 4);  // enough resident warps to saturate HBM

  void* data = nullptr;
  unsigned* block_xor = nullptr;
  if (cudaMalloc(&data, size_t(words) * sizeof(uint4)) != cudaSuccess) {
    cudaGetLastError();
    throw Error("bandwidth measurement: cannot allocate " + std::to_string(bytes) + " bytes of device memory");
  }
  cudaEvent_t start = nullptr, stop = nullptr;
  double best_seconds = 0;
  try {
    CUDA_CHECK(cudaMalloc(&block_xor, size_t(blocks) * sizeof(unsigned)));
    CUDA_CHECK(cudaMemset(data, 0x5a, size_t(words) * sizeof(uint4)));  // touch every page before timing
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    read_kernel<<<blocks, kThreads>>>(static_cast<const uint4*>(data), words, block_xor);  // warm-up
    CUDA_CHECK_LAUNCH();
    for (int pass = 0; pass < kPasses; ++pass) {
      CUDA_CHECK(cudaEventRecord(start));
      read_kernel<<<blocks, kThreads>>>(static_cast<const uint4*>(data), words, block_xor);
      CUDA_CHECK_LAUNCH();
      CUDA_CHECK(cudaEventRecord(stop));
      CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      const double seconds = ms * 1e-3;
      if (pass == 0 || seconds < best_seconds) best_seconds = seconds;
    }
  } catch (...) {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    cudaFree(block_xor);
    cudaFree(data);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(block_xor);
  cudaFree(data);
  return double(words) * sizeof(uint4) / best_seconds / 1e9;
}

int64_t device_free_memory_bytes() {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return int64_t(free_bytes);
}

}  // namespace slkv
