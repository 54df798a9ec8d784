#include "runtime/kv_block_pool.h"

#include <cstdlib>
#include <string>

#include "runtime/error.h"

namespace slkv {

KvBlockPool::KvBlockPool(int64_t block_size, int64_t floats_per_token, int64_t max_blocks, Backend* memory)
    : block_size_(block_size), floats_per_token_(floats_per_token), max_blocks_(max_blocks),
      memory_(memory && !memory->uses_host_memory() ? memory : nullptr) {
  SLKV_CHECK(block_size > 0 && floats_per_token > 0 && max_blocks > 0, "bad KV pool geometry");
}

KvBlockPool::~KvBlockPool() {
  for (float* block : storage_) {
    if (memory_)
      memory_->release(block);
    else
      std::free(block);
  }
}

BlockId KvBlockPool::allocate() {
  BlockId block;
  if (!free_list_.empty()) {
    block = free_list_.back();
    free_list_.pop_back();
  } else {
    if (static_cast<int64_t>(storage_.size()) >= max_blocks_) {
      throw Error("KV cache is full: all " + std::to_string(max_blocks_) + " blocks of " +
                  std::to_string(block_size_) +
                  " tokens are in use (raise --kv-blocks or shorten the request)");
    }
    block = static_cast<BlockId>(storage_.size());
    void* data = memory_ ? memory_->allocate(bytes_per_block()) : std::malloc(bytes_per_block());
    if (!data) throw Error("out of memory allocating a KV block of " + std::to_string(bytes_per_block()) + " bytes");
    storage_.push_back(static_cast<float*>(data));
    holders_.push_back(0);
  }
  holders_[block] = 1;
  ++blocks_in_use_;
  if (blocks_in_use_ > peak_blocks_in_use_) peak_blocks_in_use_ = blocks_in_use_;
  return block;
}

void KvBlockPool::retain(BlockId block) {
  SLKV_CHECK(block >= 0 && block < static_cast<BlockId>(storage_.size()) && holders_[block] > 0,
             "retaining block " << block << " that is not in use");
  ++holders_[block];
}

void KvBlockPool::release(BlockId block) {
  SLKV_CHECK(block >= 0 && block < static_cast<BlockId>(storage_.size()) && holders_[block] > 0,
             "releasing block " << block << " that is not in use");
  if (--holders_[block] > 0) return;
  free_list_.push_back(block);
  --blocks_in_use_;
}

float* KvBlockPool::keys(BlockId block) { return storage_[block]; }
float* KvBlockPool::values(BlockId block) { return storage_[block] + block_size_ * floats_per_token_; }
const float* KvBlockPool::keys(BlockId block) const { return storage_[block]; }
const float* KvBlockPool::values(BlockId block) const {
  return storage_[block] + block_size_ * floats_per_token_;
}

int64_t KvBlockPool::bytes_per_block() const {
  return 2 * block_size_ * floats_per_token_ * static_cast<int64_t>(sizeof(float));
}

}  // namespace slkv
