#pragma once
// KvBlockPool: fixed-size token blocks for the paged KV cache. One block holds
// the keys and values of `block_size` tokens of one layer of one sequence.
// Blocks are recycled through a free list; the pool never exceeds max_blocks.
// The blocks live in host memory, or in a backend's memory (GPU) when given one.
// Storage grows by slabs of many blocks (one allocation each, not one per
// block); a slab keeps all its blocks' keys in one region and their values in
// another, so blocks with consecutive ids in a slab are contiguous and the
// cache can hand the attention kernel one span for a run of them.
#include <cstdint>
#include <vector>

#include "kernels/backend.h"

namespace slkv {

using BlockId = int32_t;

class KvBlockPool {
 public:
  // floats_per_token: n_kv_heads * head_dim (for keys; values the same).
  // memory: the GPU backend whose memory holds the blocks (it must outlive
  // the pool); null or a host-memory backend = host memory.
  KvBlockPool(int64_t block_size, int64_t floats_per_token, int64_t max_blocks, Backend* memory = nullptr);
  ~KvBlockPool();
  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  // Throws slkv::Error when all max_blocks blocks are in use.
  BlockId allocate();
  // Blocks are reference counted: a windowed layer's sink and recent parts may
  // share one block. release() frees the block when the last holder lets go
  // (and then returns true).
  void retain(BlockId block);
  bool release(BlockId block);
  int32_t holders(BlockId block) const { return holders_[block]; }

  // In the pool's memory (see memory()).
  float* keys(BlockId block);    // [block_size][floats_per_token]
  float* values(BlockId block);  // [block_size][floats_per_token]
  const float* keys(BlockId block) const;
  const float* values(BlockId block) const;

  int64_t block_size() const { return block_size_; }
  int64_t floats_per_token() const { return floats_per_token_; }
  int64_t max_blocks() const { return max_blocks_; }
  int64_t blocks_in_use() const { return blocks_in_use_; }
  int64_t free_blocks() const { return max_blocks_ - blocks_in_use_; }
  int64_t peak_blocks_in_use() const { return peak_blocks_in_use_; }
  int64_t bytes_per_block() const;  // keys + values
  int64_t blocks_per_slab() const { return blocks_per_slab_; }
  Backend* memory() const { return memory_; }  // null = host memory

 private:
  int64_t block_size_;
  int64_t floats_per_token_;
  int64_t max_blocks_;
  int64_t blocks_in_use_ = 0;
  int64_t peak_blocks_in_use_ = 0;
  Backend* memory_;
  int64_t blocks_per_slab_;
  // Slabs are allocated on demand, so an idle pool costs nothing.
  std::vector<float*> slabs_;  // [keys of blocks_per_slab blocks][their values]
  int64_t blocks_created_ = 0;
  std::vector<BlockId> free_list_;
  std::vector<int32_t> holders_;  // reference count per block; 0 = free
};

}  // namespace slkv
