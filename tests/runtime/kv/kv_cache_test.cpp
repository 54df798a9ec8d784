// KvCache: block accounting, windows (rolling and grow), token selection.
#include "runtime/kv/kv_cache.h"

#include <gtest/gtest.h>

#include "tests/test_support.h"

#include <cstring>

#include "kernels/backend.h"
#include "core/error.h"

namespace slkv {
namespace {

constexpr int64_t kHeads = 2, kDim = 4, kBlock = 4;

KvCacheGeometry small_geometry(int64_t max_blocks = 64) { return {2, kHeads, kDim, kBlock, max_blocks}; }

// Key of token t, head h, element d encodes (t, h, d) so slots can be identified.
float key_value(int64_t token, int64_t head, int64_t d) { return token * 100.f + head * 10.f + d; }

// Keys and values of tokens first..first+count-1 ([token][head][dim]).
struct TokenKv {
  std::vector<float> keys, values;
  TokenKv(int64_t first, int64_t count) {
    for (int64_t t = first; t < first + count; ++t)
      for (int64_t h = 0; h < kHeads; ++h)
        for (int64_t d = 0; d < kDim; ++d) {
          keys.push_back(key_value(t, h, d));
          values.push_back(-key_value(t, h, d));
        }
  }
};

void append_tokens(KvCache& cache, SequenceId seq, int64_t layer, int64_t first, int64_t count) {
  TokenKv kv(first, count);
  cache.append(seq, layer, kv.keys.data(), kv.values.data(), count);
}

// The token ids (from the key encoding) a layer holds, in order.
std::vector<int64_t> held_tokens(const KvCache& cache, SequenceId seq, int64_t layer) {
  std::vector<int64_t> tokens;
  for (const KvSpan& span : cache.spans(seq, layer))
    for (int64_t i = 0; i < span.n_tokens; ++i) {
      tokens.push_back(static_cast<int64_t>(span.keys[i * kHeads * kDim] / 100.f));
      EXPECT_EQ(span.values[i * kHeads * kDim], -span.keys[i * kHeads * kDim]);
    }
  return tokens;
}

std::vector<int64_t> range(int64_t first, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t i = first; i < end; ++i) out.push_back(i);
  return out;
}

TEST(KvCache, AppendsAcrossBlocksAndCountsBlocks) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 3);
  append_tokens(cache, seq, 0, 3, 6);
  EXPECT_EQ(cache.tokens_held(seq, 0), 9);
  EXPECT_EQ(cache.blocks_held(seq, 0), 3);  // ceil(9 / 4)
  EXPECT_EQ(cache.tokens_held(seq, 1), 0);
  EXPECT_EQ(cache.pool().blocks_in_use(), 3);
  EXPECT_EQ(held_tokens(cache, seq, 0), range(0, 9));
  cache.remove_sequence(seq);
  EXPECT_EQ(cache.pool().blocks_in_use(), 0);
}

TEST(KvCache, WindowFreesExactlyTheMiddleBlocks) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 30);  // blocks 0..7 (8 blocks)
  ASSERT_EQ(cache.pool().blocks_in_use(), 8);
  cache.apply_window(seq, 0, /*sink=*/2, /*recent=*/7, WindowGrowth::Rolling);
  // Sink 0..1 in block 0; recent 23..29 in blocks 5..7; blocks 1..4 freed.
  EXPECT_EQ(cache.pool().blocks_in_use(), 4);
  EXPECT_EQ(cache.blocks_held(seq, 0), 4);
  std::vector<int64_t> expected = {0, 1};
  for (int64_t t = 23; t < 30; ++t) expected.push_back(t);
  EXPECT_EQ(held_tokens(cache, seq, 0), expected);
  EXPECT_EQ(cache.tokens_held(seq, 0), 9);
  EXPECT_EQ(cache.retention(seq, 0).kind, Retention::Kind::Window);
}

TEST(KvCache, KeptSlotsAreBitIdentical) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 1, 0, 21);
  std::vector<float> before(kHeads * kDim);
  std::copy_n(cache.key_at(seq, 1, 19), kHeads * kDim, before.begin());
  cache.apply_window(seq, 1, 3, 5, WindowGrowth::Grow);
  // Token 19 is now slot 3 + (19 - 16) = 6.
  EXPECT_EQ(0, std::memcmp(before.data(), cache.key_at(seq, 1, 6), before.size() * sizeof(float)));
}

TEST(KvCache, RollingWindowStaysBoundedAndFreesBlocks) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 20);
  cache.apply_window(seq, 0, 2, 5, WindowGrowth::Rolling);
  for (int64_t t = 20; t < 60; ++t) append_tokens(cache, seq, 0, t, 1);
  EXPECT_EQ(cache.tokens_held(seq, 0), 7);
  std::vector<int64_t> expected = {0, 1, 55, 56, 57, 58, 59};
  EXPECT_EQ(held_tokens(cache, seq, 0), expected);
  // Sink block + at most ceil((5 + 3) / 4) + 1 blocks for the rolling part.
  EXPECT_LE(cache.pool().blocks_in_use(), 4);
}

TEST(KvCache, GrowWindowKeepsAppending) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 20);
  cache.apply_window(seq, 0, 2, 5, WindowGrowth::Grow);
  append_tokens(cache, seq, 0, 20, 10);
  EXPECT_EQ(cache.tokens_held(seq, 0), 17);
  std::vector<int64_t> expected = {0, 1};
  for (int64_t t = 15; t < 30; ++t) expected.push_back(t);
  EXPECT_EQ(held_tokens(cache, seq, 0), expected);
}

TEST(KvCache, ShortLayerKeepsEverythingThenRolls) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 6);
  cache.apply_window(seq, 0, 2, 5, WindowGrowth::Rolling);
  EXPECT_EQ(held_tokens(cache, seq, 0), range(0, 6));
  // A chunk's first query still sees its last 5 keys: 9 tokens fit sink 2 +
  // recent 5 + the chunk's 3 - 1, so nothing goes yet.
  append_tokens(cache, seq, 0, 6, 3);
  EXPECT_EQ(held_tokens(cache, seq, 0), range(0, 9));
  append_tokens(cache, seq, 0, 9, 1);  // 10 > 7: now split
  std::vector<int64_t> expected = {0, 1, 5, 6, 7, 8, 9};
  EXPECT_EQ(held_tokens(cache, seq, 0), expected);
}

TEST(KvCache, SinkAndRecentSharingABlock) {
  KvCache cache(KvCacheGeometry{1, kHeads, kDim, 16, 8}, testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 14);  // one block
  cache.apply_window(seq, 0, 4, 8, WindowGrowth::Rolling);
  EXPECT_EQ(cache.pool().blocks_in_use(), 1);
  std::vector<int64_t> expected = {0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13};
  EXPECT_EQ(held_tokens(cache, seq, 0), expected);
  for (int64_t t = 14; t < 40; ++t) append_tokens(cache, seq, 0, t, 1);
  expected = {0, 1, 2, 3, 32, 33, 34, 35, 36, 37, 38, 39};
  EXPECT_EQ(held_tokens(cache, seq, 0), expected);
  cache.remove_sequence(seq);
  EXPECT_EQ(cache.pool().blocks_in_use(), 0);
}

TEST(KvCache, ZeroRecentKeepsOnlySink) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 12);
  cache.apply_window(seq, 0, 4, 0, WindowGrowth::Rolling);
  EXPECT_EQ(held_tokens(cache, seq, 0), range(0, 4));
  EXPECT_EQ(cache.pool().blocks_in_use(), 1);
}

TEST(KvCache, KeepSelectedGathersPerHead) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 10);
  cache.keep_selected(seq, 0, {{1, 5, 9}, {0, 2, 3}});
  EXPECT_EQ(cache.tokens_held(seq, 0), 3);
  EXPECT_EQ(cache.pool().blocks_in_use(), 1);
  EXPECT_EQ(cache.key_at(seq, 0, 1)[0], key_value(5, 0, 0));
  EXPECT_EQ(cache.key_at(seq, 0, 1)[kDim], key_value(2, 1, 0));
  EXPECT_EQ(cache.value_at(seq, 0, 2)[kDim + 3], -key_value(3, 1, 3));
  append_tokens(cache, seq, 0, 10, 1);
  EXPECT_EQ(cache.key_at(seq, 0, 3)[0], key_value(10, 0, 0));
}

TEST(KvCache, FullPoolIsAClearError) {
  KvCache cache(small_geometry(2), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 8);
  try {
    append_tokens(cache, seq, 0, 8, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KV cache is full"), std::string::npos);
  }
}

TEST(KvCache, SequencesAreIndependent) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId a = cache.add_sequence(), b = cache.add_sequence();
  append_tokens(cache, a, 0, 0, 5);
  append_tokens(cache, b, 0, 100, 2);
  EXPECT_EQ(held_tokens(cache, a, 0), range(0, 5));
  EXPECT_EQ(held_tokens(cache, b, 0), range(100, 102));
  cache.remove_sequence(a);
  EXPECT_EQ(held_tokens(cache, b, 0), range(100, 102));
}

// append_all issues a whole batch's copies as one backend op, which a GPU runs
// all at once. A block that a Rolling window frees during the batch (with
// copies of tokens that are already dead bound for it) and that a later
// append of the batch takes must receive only the later copies; the CPU
// backend refuses overlapping destinations.
TEST(KvCache, AppendAllReusesABlockFreedInTheSameBatch) {
  auto backend = make_cpu_backend(1);
  KvCache cache(small_geometry(2), *backend);  // two blocks: the freed one must be taken again
  const SequenceId a = cache.add_sequence(), b = cache.add_sequence();
  append_tokens(cache, a, 0, 0, 4);
  cache.apply_window(a, 0, 0, 1, WindowGrowth::Rolling);  // keeps token 3, in the first block

  const TokenKv a_tokens(4, 4), b_tokens(100, 4);
  const std::vector<KvAppend> batch = {{a, 0, a_tokens.keys.data(), a_tokens.values.data(), 4},
                                       {b, 0, b_tokens.keys.data(), b_tokens.values.data(), 4}};
  // a: tokens 4..7 fill a second block; its window (recent 1, + the 4 new - 1)
  // keeps them and frees the first block, which b then takes for 100..103.
  cache.append_all(batch);
  EXPECT_EQ(held_tokens(cache, a, 0), range(4, 8));
  EXPECT_EQ(held_tokens(cache, b, 0), range(100, 104));
  EXPECT_EQ(cache.pool().blocks_in_use(), 2);
}

// A chunk appended to a rolling window: its first query sees `recent` keys
// (itself included) as a decode token would; the window is back to `recent`
// after the next append.
TEST(KvCache, AChunkOnARollingWindowKeepsWhatItsFirstQueryNeeds) {
  KvCache cache(small_geometry(), testing::host_backend());
  SequenceId seq = cache.add_sequence();
  append_tokens(cache, seq, 0, 0, 20);
  cache.apply_window(seq, 0, 2, 4, WindowGrowth::Rolling);
  append_tokens(cache, seq, 0, 20, 10);
  std::vector<int64_t> expected = {0, 1};
  for (int64_t t = 17; t < 30; ++t) expected.push_back(t);  // 3 older tokens + the 10 new
  EXPECT_EQ(held_tokens(cache, seq, 0), expected);
  append_tokens(cache, seq, 0, 30, 1);
  EXPECT_EQ(held_tokens(cache, seq, 0), (std::vector<int64_t>{0, 1, 27, 28, 29, 30}));
}

// A batch that fills the pool part way through: the error names the full
// cache, and what the earlier appends took holds their keys and values.
TEST(KvCache, AppendAllThatRunsOutOfBlocksKeepsWhatItTook) {
  KvCache cache(small_geometry(1), testing::host_backend());
  const SequenceId a = cache.add_sequence(), b = cache.add_sequence();
  const TokenKv a_tokens(10, 4), b_tokens(20, 1);
  const std::vector<KvAppend> batch = {{a, 0, a_tokens.keys.data(), a_tokens.values.data(), 4},
                                       {b, 0, b_tokens.keys.data(), b_tokens.values.data(), 1}};
  EXPECT_THROW(cache.append_all(batch), Error);
  EXPECT_EQ(held_tokens(cache, a, 0), range(10, 14));
  EXPECT_EQ(cache.tokens_held(b, 0), 0);
}

}  // namespace
}  // namespace slkv

namespace slkv {
namespace {

TEST(KvCacheFork, SharesBlocksAndCopiesATailBlockBeforeWritingIt) {
  KvCache cache(small_geometry(), testing::host_backend());
  const SequenceId parent = cache.add_sequence();
  append_tokens(cache, parent, 0, 0, 6);  // blocks of 4: one full, one holding 2
  const int64_t before = cache.pool().blocks_in_use();
  cache.fork_sequence(parent, 7);
  EXPECT_EQ(cache.pool().blocks_in_use(), before) << "a fork copies nothing";
  EXPECT_EQ(cache.blocks_to_append(7, IndexRange{0, 1}, 1), 1) << "the shared tail block must be copied";
  EXPECT_EQ(cache.blocks_to_append(7, IndexRange{0, 1}, 3), 2) << "its copy, then a new block";
  // Each continues with its own tokens: neither sees the other's.
  append_tokens(cache, parent, 0, 100, 1);
  append_tokens(cache, 7, 0, 200, 2);
  EXPECT_EQ(held_tokens(cache, parent, 0), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 100}));
  EXPECT_EQ(held_tokens(cache, 7, 0), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 200, 201}));
  EXPECT_EQ(cache.pool().blocks_in_use(), before + 1) << "one copied tail; the full block stays shared";
  cache.remove_sequence(parent);
  EXPECT_EQ(held_tokens(cache, 7, 0), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 200, 201}));
  cache.remove_sequence(7);
  EXPECT_EQ(cache.pool().blocks_in_use(), 0);
}

TEST(KvCacheFork, CopyingForkOwnsItsBlocks) {
  KvCache cache(small_geometry(), testing::host_backend());
  const SequenceId parent = cache.add_sequence();
  append_tokens(cache, parent, 1, 0, 9);
  cache.apply_window(parent, 1, 2, 3, WindowGrowth::Rolling);
  const int64_t before = cache.pool().blocks_in_use();
  cache.fork_sequence(parent, 3, /*copy_blocks=*/true);
  EXPECT_EQ(cache.pool().blocks_in_use(), 2 * before);
  EXPECT_EQ(held_tokens(cache, 3, 1), held_tokens(cache, parent, 1));
  EXPECT_EQ(cache.retention(3, 1).kind, Retention::Kind::Window);
  cache.remove_sequence(parent);
  EXPECT_EQ(held_tokens(cache, 3, 1), (std::vector<int64_t>{0, 1, 6, 7, 8}));
}

TEST(KvCacheFork, ExplicitIdsMustBeUnused) {
  KvCache cache(small_geometry(), testing::host_backend());
  cache.add_sequence(5);
  EXPECT_THROW(cache.add_sequence(5), InternalError);
  EXPECT_NE(cache.add_sequence(), 5);
}

}  // namespace
}  // namespace slkv
