#include "kernels/cuda/device_memory_pool.h"

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"
#include "core/error.h"

namespace slkv {

DeviceMemoryPool::~DeviceMemoryPool() {
  // No throwing from a destructor: errors here (a dead context at exit) are ignored.
  cudaDeviceSynchronize();
  for (auto& [size, blocks] : free_)
    for (void* block : blocks) cudaFree(block);
  for (auto& [block, size] : in_use_) cudaFree(block);
}

size_t DeviceMemoryPool::rounded_size(size_t bytes) {
  constexpr size_t kSmallGranule = 256;
  constexpr size_t kSmallLimit = size_t(1) << 20;
  if (bytes == 0) bytes = 1;
  if (bytes <= kSmallLimit) return (bytes + kSmallGranule - 1) / kSmallGranule * kSmallGranule;
  size_t power = kSmallLimit;
  while (power * 2 < bytes) power *= 2;  // power < bytes <= 2 * power
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

void* DeviceMemoryPool::allocate(size_t bytes) {
  const size_t size = rounded_size(bytes);
  void* block = nullptr;
  auto cached = free_.find(size);
  if (cached != free_.end() && !cached->second.empty()) {
    block = cached->second.back();
    cached->second.pop_back();
    bytes_cached_ -= size;
  } else {
    cudaError_t status = cudaMalloc(&block, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the error, give the cache back to the driver, retry once
      trim();
      status = cudaMalloc(&block, size);
    }
    CUDA_CHECK(status);
  }
  in_use_.emplace(block, size);
  bytes_in_use_ += size;
  return block;
}

void DeviceMemoryPool::release(void* block) {
  if (!block) return;
  auto it = in_use_.find(block);
  SLKV_CHECK(it != in_use_.end(), "releasing a block the device memory pool did not hand out");
  free_[it->second].push_back(block);
  bytes_in_use_ -= it->second;
  bytes_cached_ += it->second;
  in_use_.erase(it);
}

void DeviceMemoryPool::trim() {
  // Cached blocks may still be read by enqueued kernels of the pool's stream.
  CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [size, blocks] : free_)
    for (void* block : blocks) CUDA_CHECK(cudaFree(block));
  free_.clear();
  bytes_cached_ = 0;
  ++trims_;
}

}  // namespace slkv
