#include "offload/host_pool.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace slkv {

HostPool::HostPool(Backend& backend, int64_t page_bytes, int64_t capacity_bytes, int64_t slab_bytes)
    : backend_(backend), page_bytes_(page_bytes) {
  SLKV_CHECK(page_bytes > 0, "host pages of " << page_bytes << " bytes");
  if (capacity_bytes < 0) throw Error("the offload capacity must be >= 0 bytes, got " + std::to_string(capacity_bytes));
  capacity_pages_ = capacity_bytes / page_bytes;
  pages_per_slab_ = std::max<int64_t>(1, slab_bytes / page_bytes);
}

HostPool::~HostPool() {
  for (std::byte* slab : slabs_) backend_.release_host(slab);
}

std::optional<HostPageId> HostPool::allocate() {
  if (free_.empty()) {
    if (pages_made_ >= capacity_pages_) return std::nullopt;
    // A new slab, no larger than what the capacity still allows.
    const int64_t pages = std::min(pages_per_slab_, capacity_pages_ - pages_made_);
    slabs_.push_back(static_cast<std::byte*>(backend_.allocate_host(pages * page_bytes_)));
    for (int64_t i = pages - 1; i >= 0; --i) free_.push_back(pages_made_ + i);
    pages_made_ += pages;
  }
  const HostPageId page = free_.back();
  free_.pop_back();
  ++pages_in_use_;
  return page;
}

void HostPool::release(HostPageId page) {
  SLKV_CHECK(page >= 0 && page < pages_made_, "host page " << page << " out of range");
  free_.push_back(page);
  --pages_in_use_;
}

std::byte* HostPool::data(HostPageId page) {
  SLKV_CHECK(page >= 0 && page < pages_made_, "host page " << page << " out of range");
  // Slab i holds pages [i * pages_per_slab_, ...), the last one possibly fewer.
  const int64_t slab = page / pages_per_slab_;
  return slabs_[slab] + (page - slab * pages_per_slab_) * page_bytes_;
}

}  // namespace slkv
