#include "runtime/kv/kv_block_pool.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace slkv {

namespace {
// A slab holds 1/16 of the pool (so at most that much is allocated ahead of
// use), between 64 and 65536 blocks: few allocations even for GPU caches of
// millions of blocks, and small pools stay small.
int64_t slab_blocks_for(int64_t max_blocks) {
  return std::min(max_blocks, std::clamp<int64_t>(max_blocks / 16, 64, 65536));
}
}  // namespace

KvBlockPool::KvBlockPool(int64_t block_size, int64_t floats_per_token, int64_t max_blocks, Backend* memory)
    : block_size_(block_size),
      floats_per_token_(floats_per_token),
      max_blocks_(max_blocks),
      memory_(memory && !memory->uses_host_memory() ? memory : nullptr),
      blocks_per_slab_(max_blocks > 0 ? slab_blocks_for(max_blocks) : 1) {
  SLKV_CHECK(block_size > 0 && floats_per_token > 0 && max_blocks > 0, "bad KV pool geometry");
}

KvBlockPool::~KvBlockPool() {
  for (float* slab : slabs_) {
    if (memory_)
      memory_->release(slab);
    else
      std::free(slab);
  }
}

BlockId KvBlockPool::allocate() {
  BlockId block;
  if (!free_list_.empty()) {
    block = free_list_.back();
    free_list_.pop_back();
  } else {
    if (blocks_created_ >= max_blocks_) {
      throw Error("KV cache is full: all " + std::to_string(max_blocks_) + " blocks of " +
                  std::to_string(block_size_) +
                  " tokens are in use (raise --kv-blocks or shorten the request)");
    }
    if (blocks_created_ == static_cast<int64_t>(slabs_.size()) * blocks_per_slab_) {
      const int64_t bytes = blocks_per_slab_ * bytes_per_block();
      void* slab = memory_ ? memory_->allocate(bytes) : std::malloc(static_cast<size_t>(bytes));
      if (!slab) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes of KV cache");
      slabs_.push_back(static_cast<float*>(slab));
    }
    block = static_cast<BlockId>(blocks_created_++);
    holders_.push_back(0);
  }
  holders_[block] = 1;
  ++blocks_in_use_;
  if (blocks_in_use_ > peak_blocks_in_use_) peak_blocks_in_use_ = blocks_in_use_;
  return block;
}

void KvBlockPool::retain(BlockId block) {
  SLKV_CHECK(block >= 0 && block < static_cast<BlockId>(blocks_created_) && holders_[block] > 0,
             "retaining block " << block << " that is not in use");
  ++holders_[block];
}

bool KvBlockPool::release(BlockId block) {
  SLKV_CHECK(block >= 0 && block < static_cast<BlockId>(blocks_created_) && holders_[block] > 0,
             "releasing block " << block << " that is not in use");
  if (--holders_[block] > 0) return false;
  free_list_.push_back(block);
  --blocks_in_use_;
  return true;
}

float* KvBlockPool::keys(BlockId block) {
  const int64_t block_floats = block_size_ * floats_per_token_;
  return slabs_[block / blocks_per_slab_] + (block % blocks_per_slab_) * block_floats;
}

float* KvBlockPool::values(BlockId block) { return keys(block) + blocks_per_slab_ * block_size_ * floats_per_token_; }

const float* KvBlockPool::keys(BlockId block) const { return const_cast<KvBlockPool*>(this)->keys(block); }

const float* KvBlockPool::values(BlockId block) const { return const_cast<KvBlockPool*>(this)->values(block); }

int64_t KvBlockPool::bytes_per_block() const {
  return 2 * block_size_ * floats_per_token_ * static_cast<int64_t>(sizeof(float));
}

}  // namespace slkv
