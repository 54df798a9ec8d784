#pragma once
// DeviceMemoryPool: a caching allocator of device memory for the backend's
// scratch buffers. Plain cudaMalloc (no managed memory); released blocks go to
// a free list keyed by their rounded size and are handed out again instead of
// calling cudaMalloc/cudaFree (which synchronise the device) on every op.
//
// Stream rule: the pool belongs to one stream. A block released while kernels
// enqueued on that stream still use it may be handed to later work of the same
// stream at once, since stream order runs the earlier kernels first. Never
// share blocks with work on other streams. Plain C++ header (no CUDA headers).
#include <cstddef>
#include <map>
#include <unordered_map>
#include <vector>

namespace slkv {

class DeviceMemoryPool {
 public:
  DeviceMemoryPool() = default;
  ~DeviceMemoryPool();  // frees every block, cached or not
  DeviceMemoryPool(const DeviceMemoryPool&) = delete;
  DeviceMemoryPool& operator=(const DeviceMemoryPool&) = delete;

  // A block of at least `bytes` (256-byte aligned, as cudaMalloc gives). When
  // cudaMalloc fails the cache is emptied and the allocation tried once more.
  void* allocate(size_t bytes);
  // Returns a block from allocate() to the free list (nullptr is ignored).
  void release(void* block);
  // cudaFree's every cached block (waits for the device first).
  void trim();

  size_t bytes_in_use() const { return bytes_in_use_; }
  // How many times trim() ran: recordings (CUDA graphs) made before a trim
  // may point at freed blocks.
  size_t trims() const { return trims_; }
  size_t bytes_cached() const { return bytes_cached_; }

  // The size class a request is served from: multiples of 256 bytes up to
  // 1 MiB, then 8 classes per power of two (at most 12.5% slack).
  static size_t rounded_size(size_t bytes);

 private:
  std::map<size_t, std::vector<void*>> free_;    // rounded size -> cached blocks
  std::unordered_map<void*, size_t> in_use_;     // block -> rounded size
  size_t bytes_in_use_ = 0, bytes_cached_ = 0;
  size_t trims_ = 0;
};

// A pool block for the length of one scope (one backend op).
class PoolBlock {
 public:
  PoolBlock(DeviceMemoryPool& pool, size_t bytes) : pool_(&pool), data_(pool.allocate(bytes)) {}
  ~PoolBlock() { pool_->release(data_); }
  PoolBlock(const PoolBlock&) = delete;
  PoolBlock& operator=(const PoolBlock&) = delete;

  void* get() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  DeviceMemoryPool* pool_;
  void* data_;
};

}  // namespace slkv
