#include "kernels/cuda/upload_ring.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

#include "kernels/cuda/cuda_check.h"
#include "core/error.h"

namespace slkv {

UploadRing::UploadRing(CUstream_st* stream, int n_slots) : stream_(stream), slots_(size_t(n_slots)) {
  SLKV_CHECK(n_slots >= 1, "upload ring of " << n_slots << " slots");
  for (Slot& slot : slots_) CUDA_CHECK(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
}

UploadRing::~UploadRing() {
  cudaStreamSynchronize(stream_);  // no copy or kernel may still use the slots
  for (Slot& slot : slots_) {
    if (slot.host) cudaFreeHost(slot.host);
    if (slot.device) cudaFree(slot.device);
    if (slot.copied) cudaEventDestroy(slot.copied);
  }
}

void UploadRing::grow(Slot& slot, size_t bytes) {
  const size_t capacity = std::max<size_t>({bytes, 2 * slot.capacity, 4096});
  // Kernels enqueued earlier may still read the old device memory.
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (slot.host) CUDA_CHECK(cudaFreeHost(slot.host));
  if (slot.device) CUDA_CHECK(cudaFree(slot.device));
  slot.host = slot.device = nullptr;
  slot.capacity = 0;
  CUDA_CHECK(cudaMallocHost(&slot.host, capacity));
  CUDA_CHECK(cudaMalloc(&slot.device, capacity));
  slot.capacity = capacity;
}

const void* UploadRing::upload(const void* host, size_t bytes) {
  Slot& slot = slots_[next_];
  next_ = (next_ + 1) % slots_.size();
  CUDA_CHECK(cudaEventSynchronize(slot.copied));  // the slot's previous copy has left its pinned memory
  if (bytes > slot.capacity) grow(slot, bytes);
  if (bytes == 0) return slot.device;
  std::memcpy(slot.host, host, bytes);
  CUDA_CHECK(cudaMemcpyAsync(slot.device, slot.host, bytes, cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaEventRecord(slot.copied, stream_));
  return slot.device;
}

}  // namespace slkv
