#pragma once
// KvBlockPool: fixed-size token blocks for the paged KV cache. One block holds
// the keys and values of `block_size` tokens of one layer of one sequence.
// Blocks are recycled through a free list; the pool never exceeds max_blocks.
#include <cstdint>
#include <memory>
#include <vector>

namespace slkv {

using BlockId = int32_t;

class KvBlockPool {
 public:
  // floats_per_token: n_kv_heads * head_dim (for keys; values the same).
  KvBlockPool(int64_t block_size, int64_t floats_per_token, int64_t max_blocks);

  // Throws slkv::Error when all max_blocks blocks are in use.
  BlockId allocate();
  // Blocks are reference counted: a windowed layer's sink and recent parts may
  // share one block. release() frees the block when the last holder lets go.
  void retain(BlockId block);
  void release(BlockId block);

  float* keys(BlockId block);    // [block_size][floats_per_token]
  float* values(BlockId block);  // [block_size][floats_per_token]
  const float* keys(BlockId block) const;
  const float* values(BlockId block) const;

  int64_t block_size() const { return block_size_; }
  int64_t floats_per_token() const { return floats_per_token_; }
  int64_t max_blocks() const { return max_blocks_; }
  int64_t blocks_in_use() const { return blocks_in_use_; }
  int64_t peak_blocks_in_use() const { return peak_blocks_in_use_; }
  int64_t bytes_per_block() const;  // keys + values

 private:
  int64_t block_size_;
  int64_t floats_per_token_;
  int64_t max_blocks_;
  int64_t blocks_in_use_ = 0;
  int64_t peak_blocks_in_use_ = 0;
  // Storage grows on demand, one allocation per block, so an idle pool costs nothing.
  std::vector<std::unique_ptr<float[]>> storage_;
  std::vector<BlockId> free_list_;
  std::vector<int32_t> holders_;  // reference count per block; 0 = free
};

}  // namespace slkv
