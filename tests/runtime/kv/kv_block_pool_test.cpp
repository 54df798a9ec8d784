// KvBlockPool's slab storage, and the spans KvCache builds from it: blocks
// never overlap, slabs are allocated only as blocks are needed, and runs of
// blocks adjacent in a slab reach the attention kernel as one span.
#include "runtime/kv/kv_block_pool.h"

#include <gtest/gtest.h>

#include "tests/test_support.h"

#include <set>
#include <vector>

#include "core/error.h"
#include "runtime/kv/kv_cache.h"

namespace slkv {
namespace {

TEST(KvBlockPool, SlabsHoldDisjointBlocksAndGrowOnDemand) {
  const int64_t block_size = 4, floats = 6, max_blocks = 200;
  KvBlockPool pool(block_size, floats, max_blocks);
  ASSERT_EQ(pool.blocks_per_slab(), 64);  // 200 / 16 is below the 64-block minimum
  std::vector<BlockId> blocks;
  for (int i = 0; i < max_blocks; ++i) blocks.push_back(pool.allocate());
  EXPECT_THROW(pool.allocate(), Error);
  // Every key and value float of every block is written once with its own tag.
  for (BlockId b : blocks)
    for (int64_t i = 0; i < block_size * floats; ++i) {
      pool.keys(b)[i] = static_cast<float>(b * 1000 + i);
      pool.values(b)[i] = -static_cast<float>(b * 1000 + i);
    }
  for (BlockId b : blocks)
    for (int64_t i = 0; i < block_size * floats; ++i) {
      ASSERT_EQ(pool.keys(b)[i], static_cast<float>(b * 1000 + i)) << "block " << b << " overlaps another";
      ASSERT_EQ(pool.values(b)[i], -static_cast<float>(b * 1000 + i)) << "block " << b << " overlaps another";
    }
  // Consecutive blocks of one slab are contiguous (keys and values separately).
  EXPECT_EQ(pool.keys(1), pool.keys(0) + block_size * floats);
  EXPECT_EQ(pool.values(1), pool.values(0) + block_size * floats);
  // Released blocks are reused before new ones.
  pool.release(blocks[5]);
  EXPECT_EQ(pool.allocate(), blocks[5]);
}

TEST(KvBlockPool, ConsecutiveBlocksBecomeOneSpan) {
  const KvCacheGeometry geometry{/*num_layers=*/2, /*n_kv_heads=*/1, /*head_dim=*/2, /*block_size=*/4,
                                 /*max_blocks=*/256};
  KvCache cache(geometry, testing::host_backend());
  const SequenceId sequence = cache.add_sequence();
  std::vector<float> keys(40 * 2), values(40 * 2);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = static_cast<float>(i), values[i] = -static_cast<float>(i);
  cache.append(sequence, 0, keys.data(), values.data(), 40);  // 10 fresh blocks in a row
  std::vector<KvSpan> spans = cache.spans(sequence, 0);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].n_tokens, 40);
  for (int64_t i = 0; i < 80; ++i) ASSERT_EQ(spans[0].keys[i], static_cast<float>(i));
  // Interleaving layers breaks adjacency: spans split where the blocks do, tokens stay in order.
  for (int t = 0; t < 8; ++t) {
    const float k[2] = {1000.f + t, 0.f}, v[2] = {0.f, 0.f};
    cache.append(sequence, 1, k, v, 1);
    cache.append(sequence, 0, k, v, 1);
  }
  std::vector<float> layer0;
  for (const KvSpan& span : cache.spans(sequence, 0))
    for (int64_t i = 0; i < span.n_tokens; ++i) layer0.push_back(span.keys[i * 2]);
  ASSERT_EQ(layer0.size(), 48u);
  for (int t = 0; t < 8; ++t) EXPECT_EQ(layer0[40 + t], 1000.f + t);
}

}  // namespace
}  // namespace slkv
