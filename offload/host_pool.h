#pragma once
// HostPool: the host memory parked KV lives in. Fixed-size pages carved from
// slabs of Backend::allocate_host memory (page-locked under CUDA, so the
// copy stream moves them asynchronously), allocated as pages are needed up
// to a byte capacity, never beyond it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/backend.h"

namespace slkv {

using HostPageId = int64_t;

class HostPool {
 public:
  // capacity_bytes: the most it holds (--offload-capacity); slab_bytes: how
  // much it asks the backend for at a time.
  HostPool(Backend& backend, int64_t page_bytes, int64_t capacity_bytes, int64_t slab_bytes = int64_t{64} << 20);
  ~HostPool();
  HostPool(const HostPool&) = delete;
  HostPool& operator=(const HostPool&) = delete;

  // A free page, or nothing when the capacity is used up.
  std::optional<HostPageId> allocate();
  void release(HostPageId page);
  std::byte* data(HostPageId page);

  int64_t page_bytes() const { return page_bytes_; }
  int64_t capacity_pages() const { return capacity_pages_; }
  int64_t pages_in_use() const { return pages_in_use_; }
  int64_t bytes_in_use() const { return pages_in_use_ * page_bytes_; }

 private:
  Backend& backend_;
  int64_t page_bytes_;
  int64_t capacity_pages_;
  int64_t pages_per_slab_;
  std::vector<std::byte*> slabs_;
  std::vector<HostPageId> free_;
  int64_t pages_made_ = 0;  // pages carved from slabs so far
  int64_t pages_in_use_ = 0;
};

}  // namespace slkv
