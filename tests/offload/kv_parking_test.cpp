// Parking and restoring what windowed layers drop: KvCache with the
// OffloadManager on the CPU backend. Every token's keys encode its position,
// so a restored layer can be checked slot by slot.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "kernels/backend.h"
#include "offload/host_pool.h"
#include "offload/offload_manager.h"
#include "runtime/kv/kv_cache.h"

namespace slkv {
namespace {

constexpr int64_t kHeads = 2, kDim = 4, kBlock = 4, kFloats = kHeads * kDim;
constexpr int64_t kTokenBytes = 2 * kFloats * static_cast<int64_t>(sizeof(float));

float key_of(int64_t position, int64_t i) { return static_cast<float>(position * 1000 + i); }

void append(KvCache& cache, SequenceId seq, int64_t layer, int64_t first, int64_t count) {
  std::vector<float> keys, values;
  for (int64_t p = first; p < first + count; ++p)
    for (int64_t i = 0; i < kFloats; ++i) {
      keys.push_back(key_of(p, i));
      values.push_back(-key_of(p, i) - 0.5f);
    }
  cache.append(seq, layer, keys.data(), values.data(), count);
}

// The positions the layer holds, read back from the keys; checks each slot's values too.
std::vector<int64_t> held_positions(const KvCache& cache, SequenceId seq, int64_t layer) {
  std::vector<int64_t> positions;
  for (const KvSpan& span : cache.spans(seq, layer))
    for (int64_t t = 0; t < span.n_tokens; ++t) {
      const int64_t p = static_cast<int64_t>(span.keys[t * kFloats]) / 1000;
      for (int64_t i = 0; i < kFloats; ++i) {
        EXPECT_EQ(span.keys[t * kFloats + i], key_of(p, i));
        EXPECT_EQ(span.values[t * kFloats + i], -key_of(p, i) - 0.5f);
      }
      positions.push_back(p);
    }
  return positions;
}

std::vector<int64_t> range(int64_t begin, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t p = begin; p < end; ++p) out.push_back(p);
  return out;
}

struct KvParking : ::testing::Test {
  std::unique_ptr<Backend> backend = make_cpu_backend(1);
  int64_t capacity = int64_t{1} << 20;
  std::unique_ptr<OffloadManager> offload;
  std::unique_ptr<KvCache> cache;
  void make(int64_t capacity_bytes, int64_t blocks = 256) {
    offload = std::make_unique<OffloadManager>(*backend, kFloats, capacity_bytes, /*page_tokens=*/kBlock);
    cache = std::make_unique<KvCache>(KvCacheGeometry{2, kHeads, kDim, kBlock, blocks}, *backend);
    cache->set_dropped_store(offload.get());
  }
  void SetUp() override { make(capacity); }
};

TEST_F(KvParking, TrimParksTheMiddleAndRestoreBringsItBackExactly) {
  cache->add_sequence(0);
  offload->add_sequence(0);
  append(*cache, 0, 0, 0, 37);
  cache->apply_window(0, 0, 3, 10, WindowGrowth::Rolling);
  EXPECT_EQ(cache->tokens_held(0, 0), 13);
  EXPECT_EQ(offload->parked(0, 0).begin, 3);
  EXPECT_EQ(offload->parked(0, 0).end, 27);
  EXPECT_EQ(offload->counters(0).bytes_parked, 24 * kTokenBytes);
  EXPECT_EQ(offload->counters(0).bytes_held, 24 * kTokenBytes);
  ASSERT_TRUE(cache->can_restore(0, 0));
  cache->restore_layer(0, 0);
  cache->complete_restores();
  EXPECT_EQ(cache->retention(0, 0).kind, Retention::Kind::Full);
  EXPECT_EQ(held_positions(*cache, 0, 0), range(0, 37));
  EXPECT_EQ(offload->counters(0).bytes_restored, 24 * kTokenBytes);
  // New tokens attend to the whole history, then the layer is trimmed again:
  // only the positions the host does not hold yet are copied.
  append(*cache, 0, 0, 37, 9);
  cache->apply_window(0, 0, 3, 10, WindowGrowth::Rolling);
  EXPECT_EQ(offload->parked(0, 0).end, 36);
  EXPECT_EQ(offload->counters(0).bytes_parked, 33 * kTokenBytes);
  EXPECT_EQ(held_positions(*cache, 0, 0), (std::vector<int64_t>{0, 1, 2, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45}));
  cache->forget_parked(0, 0);
  EXPECT_EQ(offload->counters(0).bytes_held, 0);
  EXPECT_EQ(offload->pool().pages_in_use(), 0);
}

TEST_F(KvParking, TokensRollingOutOfTheWindowAreParkedOneByOneAndInChunks) {
  cache->add_sequence(0);
  offload->add_sequence(0);
  append(*cache, 0, 1, 0, 20);
  cache->apply_window(0, 1, 4, 6, WindowGrowth::Rolling);
  for (int64_t p = 20; p < 27; ++p) append(*cache, 0, 1, p, 1);  // decode steps
  EXPECT_EQ(offload->parked(0, 1).end, 21);
  // A chunk: its first query keeps 5 older tokens; one more rolls out.
  append(*cache, 0, 1, 27, 15);
  EXPECT_EQ(offload->parked(0, 1).end, 22);
  append(*cache, 0, 1, 42, 1);  // back to the window: 36..42
  EXPECT_EQ(offload->parked(0, 1).end, 37);
  EXPECT_EQ(held_positions(*cache, 0, 1), (std::vector<int64_t>{0, 1, 2, 3, 37, 38, 39, 40, 41, 42}));
  cache->restore_layer(0, 1);
  cache->complete_restores();
  EXPECT_EQ(held_positions(*cache, 0, 1), range(0, 43));
}

TEST_F(KvParking, AShortLayerWindowedEarlyParksOnceItRollsPastTheWindow) {
  cache->add_sequence(0);
  offload->add_sequence(0);
  append(*cache, 0, 0, 0, 5);
  cache->apply_window(0, 0, 2, 4, WindowGrowth::Rolling);  // holds everything, windowed
  EXPECT_TRUE(cache->can_restore(0, 0));
  append(*cache, 0, 0, 5, 11);  // the chunk's first query keeps the 3 tokens before it
  EXPECT_EQ(offload->parked(0, 0).size(), 0);
  append(*cache, 0, 0, 16, 1);
  EXPECT_EQ(offload->parked(0, 0).begin, 2);
  EXPECT_EQ(offload->parked(0, 0).end, 13);
  cache->restore_layer(0, 0);
  cache->complete_restores();
  EXPECT_EQ(held_positions(*cache, 0, 0), range(0, 17));
}

TEST_F(KvParking, GrowingWindowsParkOnlyAtTheTrim) {
  cache->add_sequence(0);
  offload->add_sequence(0);
  append(*cache, 0, 0, 0, 30);
  cache->apply_window(0, 0, 4, 8, WindowGrowth::Grow);
  append(*cache, 0, 0, 30, 10);
  EXPECT_EQ(offload->parked(0, 0).end, 22);
  cache->restore_layer(0, 0);
  cache->complete_restores();
  EXPECT_EQ(held_positions(*cache, 0, 0), range(0, 40));
}

TEST_F(KvParking, SequencesTheStoreDoesNotKeepAreNotParked) {
  cache->add_sequence(5);
  append(*cache, 5, 0, 0, 30);
  cache->apply_window(5, 0, 4, 8, WindowGrowth::Rolling);
  EXPECT_EQ(offload->parked(5, 0).size(), 0);
  EXPECT_FALSE(cache->can_restore(5, 0));
  EXPECT_EQ(offload->totals().bytes_parked, 0);
}

TEST_F(KvParking, RestoringTakesFreshBlocksAndReturnsTheOldOnes) {
  cache->add_sequence(0);
  offload->add_sequence(0);
  append(*cache, 0, 0, 0, 40);
  cache->apply_window(0, 0, 4, 8, WindowGrowth::Rolling);
  EXPECT_EQ(cache->pool().blocks_in_use(), 3);  // sink: one block; recent 32..39: two
  EXPECT_EQ(cache->blocks_to_restore(0, 0), 10);
  cache->restore_layer(0, 0);
  cache->complete_restores();
  EXPECT_EQ(cache->pool().blocks_in_use(), 10);
  EXPECT_EQ(cache->blocks_held(0, 0), 10);
  cache->remove_sequence(0);
  EXPECT_EQ(cache->pool().blocks_in_use(), 0);
}

TEST_F(KvParking, AFullHostPoolEvictsTheLeastRecentlyUsedSession) {
  make(/*capacity_bytes=*/6 * kBlock * kTokenBytes);  // six pages
  for (SequenceId s : {0, 1}) {
    cache->add_sequence(s);
    offload->add_sequence(s);
    append(*cache, s, 0, 0, 30);
  }
  cache->apply_window(0, 0, 2, 4, WindowGrowth::Rolling);  // 24 tokens: six pages, all of them
  EXPECT_EQ(offload->pool().pages_in_use(), 6);
  cache->apply_window(1, 0, 2, 4, WindowGrowth::Rolling);  // needs room: session 0 goes
  EXPECT_EQ(offload->take_evicted(), (std::vector<SequenceId>{0}));
  EXPECT_TRUE(offload->take_evicted().empty());
  EXPECT_FALSE(offload->parks(0));
  EXPECT_FALSE(cache->can_restore(0, 0));
  EXPECT_TRUE(cache->can_restore(1, 0));
  EXPECT_EQ(offload->counters(0).bytes_evicted, 24 * kTokenBytes);
  EXPECT_EQ(offload->totals().sessions_evicted, 1);
  cache->restore_layer(1, 0);
  cache->complete_restores();
  EXPECT_EQ(held_positions(*cache, 1, 0), range(0, 30));
}

TEST_F(KvParking, ASessionLargerThanTheHostPoolLosesItsOwnParkedTokens) {
  make(/*capacity_bytes=*/2 * kBlock * kTokenBytes);
  cache->add_sequence(0);
  offload->add_sequence(0);
  append(*cache, 0, 0, 0, 30);
  cache->apply_window(0, 0, 2, 4, WindowGrowth::Rolling);
  EXPECT_EQ(offload->take_evicted(), (std::vector<SequenceId>{0}));
  EXPECT_FALSE(cache->can_restore(0, 0));
  EXPECT_EQ(offload->pool().pages_in_use(), 0);
  EXPECT_EQ(cache->tokens_held(0, 0), 6);  // the device part is untouched
}

TEST_F(KvParking, AForkedSessionGetsItsOwnCopyOfTheParkedTokens) {
  cache->add_sequence(0);
  offload->add_sequence(0);
  append(*cache, 0, 0, 0, 30);
  cache->apply_window(0, 0, 4, 8, WindowGrowth::Rolling);
  cache->fork_sequence(0, 1);
  offload->fork_sequence(0, 1);
  offload->remove_sequence(0);
  cache->remove_sequence(0);
  cache->restore_layer(1, 0);
  cache->complete_restores();
  EXPECT_EQ(held_positions(*cache, 1, 0), range(0, 30));
}

TEST(HostPool, GrowsBySlabsUpToItsCapacity) {
  auto backend = make_cpu_backend(1);
  HostPool pool(*backend, /*page_bytes=*/4096, /*capacity_bytes=*/5 * 4096 + 100, /*slab_bytes=*/2 * 4096);
  EXPECT_EQ(pool.capacity_pages(), 5);
  std::vector<HostPageId> pages;
  while (std::optional<HostPageId> page = pool.allocate()) pages.push_back(*page);
  ASSERT_EQ(pages.size(), 5u);
  for (HostPageId page : pages) std::memset(pool.data(page), static_cast<int>(page), 4096);  // distinct, writable
  for (HostPageId page : pages) EXPECT_EQ(static_cast<int>(pool.data(page)[4095]), static_cast<int>(page));
  EXPECT_EQ(pool.bytes_in_use(), 5 * 4096);
  pool.release(pages[2]);
  EXPECT_EQ(pool.allocate(), pages[2]);
  EXPECT_FALSE(pool.allocate().has_value());
}

TEST(HostPool, ZeroCapacityHoldsNothing) {
  auto backend = make_cpu_backend(1);
  HostPool pool(*backend, 4096, 0);
  EXPECT_FALSE(pool.allocate().has_value());
}

TEST_F(KvParking, RestoresCompleteLayerByLayerAsThePassReachesThem) {
  cache->add_sequence(0);
  offload->add_sequence(0);
  for (int64_t layer = 0; layer < 2; ++layer) {
    append(*cache, 0, layer, 0, 37);
    cache->apply_window(0, layer, 3, 10, WindowGrowth::Rolling);
  }
  const int64_t windowed_blocks = cache->pool().blocks_in_use();
  cache->restore_layer(0, 0);
  cache->restore_layer(0, 1);
  EXPECT_TRUE(cache->has_pending_restores());
  EXPECT_EQ(offload->counters(0).bytes_restored, 0);  // nothing moved yet
  // The pass reaches layer 0: its restore completes (its old blocks go back)
  // and layer 1's host copies start.
  append(*cache, 0, 0, 37, 1);
  EXPECT_EQ(held_positions(*cache, 0, 0), range(0, 38));
  EXPECT_EQ(offload->counters(0).bytes_restored, 2 * 24 * kTokenBytes);
  EXPECT_TRUE(cache->has_pending_restores());
  const int64_t layer_one_pending = cache->pool().blocks_in_use();
  append(*cache, 0, 1, 37, 1);
  EXPECT_FALSE(cache->has_pending_restores());
  EXPECT_EQ(held_positions(*cache, 0, 1), range(0, 38));
  EXPECT_LT(cache->pool().blocks_in_use(), layer_one_pending);  // layer 1's windowed blocks went back
  EXPECT_GT(cache->pool().blocks_in_use(), windowed_blocks);
}

}  // namespace
}  // namespace slkv
