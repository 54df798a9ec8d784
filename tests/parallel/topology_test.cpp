// Rank layout, layer split and tensor slices (pure arithmetic) and the
// weight-store slicing the sharded loader uses.
#include <gtest/gtest.h>

#include <cstring>

#include "parallel/topology.h"
#include "core/error.h"
#include "runtime/checkpoint/weight_store.h"

namespace slkv {
namespace {

ModelConfig config_with(int64_t heads, int64_t kv_heads) {
  ModelConfig c;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = 8;
  c.hidden_size = heads * 8;
  c.intermediate_size = 172;
  c.vocab_size = 513;
  c.num_layers = 5;
  return c;
}

TEST(Topology, RankLayoutIsPpMajor) {
  const Topology t = Topology::make(8, 5, 2, 4);
  EXPECT_EQ(t.tp_rank, 1);
  EXPECT_EQ(t.pp_rank, 2);
  EXPECT_EQ(t.world_rank_of(2, 1), 5);
  EXPECT_FALSE(t.is_coordinator());
  EXPECT_TRUE(Topology::make(8, 0, 2, 4).is_coordinator());
}

TEST(Topology, GridMustMatchWorld) {
  try {
    Topology::make(2, 0, 2, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--tp 2 x --pp 2 = 4 ranks, but the MPI world has 2");
  }
  EXPECT_THROW(Topology::make(1, 0, 0, 1), Error);
}

TEST(Topology, EvenSplitGivesTheRemainderToTheFirstParts) {
  EXPECT_EQ(split_evenly(5, 2, 0).size(), 3);
  EXPECT_EQ(split_evenly(5, 2, 1).begin, 3);
  EXPECT_EQ(split_evenly(5, 2, 1).end, 5);
  EXPECT_EQ(split_evenly(513, 4, 3).end, 513);
}

TEST(Topology, StageLayers) {
  auto stages = stage_layers(5, 2);
  EXPECT_EQ(stages[0].end, 3);
  stages = stage_layers(5, 2, parse_layer_counts("2,3"));
  EXPECT_EQ(stages[0].end, 2);
  EXPECT_EQ(stages[1].begin, 2);
  EXPECT_EQ(stages[1].end, 5);
  EXPECT_THROW(stage_layers(5, 2, {3, 3}), Error);
  EXPECT_THROW(stage_layers(5, 3, {3, 2}), Error);
  EXPECT_THROW(stage_layers(5, 2, {5, 0}), Error);
  EXPECT_THROW(stage_layers(2, 3), Error);
  EXPECT_THROW(parse_layer_counts("3,x"), Error);
}

TEST(Topology, KvHeadsSplitWhenDivisible) {
  const TensorSlice s = tensor_slice(config_with(8, 4), 2, 1);
  EXPECT_EQ(s.q_heads.begin, 4);
  EXPECT_EQ(s.q_heads.end, 8);
  EXPECT_EQ(s.kv_heads.begin, 2);
  EXPECT_EQ(s.kv_heads.end, 4);
  EXPECT_FALSE(s.kv_replicated);
  EXPECT_EQ(s.ffn.begin, 86);
  EXPECT_EQ(s.vocab.begin, 257);
}

TEST(Topology, KvHeadsReplicatedWhenTpIsAMultiple) {
  // 8 query heads, 2 KV heads, tp 4: ranks 0,1 use KV head 0, ranks 2,3 KV head 1.
  for (int r = 0; r < 4; ++r) {
    const TensorSlice s = tensor_slice(config_with(8, 2), 4, r);
    EXPECT_TRUE(s.kv_replicated);
    EXPECT_EQ(s.kv_heads.size(), 1);
    EXPECT_EQ(s.kv_heads.begin, r / 2);
    EXPECT_EQ(s.q_heads.begin / 4, s.kv_heads.begin);  // its query heads are in that KV head's group
  }
}

TEST(Topology, IncompatibleTpIsRefused) {
  EXPECT_THROW(tensor_slice(config_with(8, 4), 3, 0), Error);
  EXPECT_THROW(tensor_slice(config_with(12, 8), 6, 0), Error);  // 8 % 6 and 6 % 8 both non-zero
}

TEST(WeightSlicing, RowSliceIsZeroCopyAndColumnSliceCopies) {
  std::vector<float> data(3 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i);
  TensorView view;
  view.name = "w";
  view.dtype = DType::F32;
  view.shape = {3, 4};
  view.data = reinterpret_cast<const std::byte*>(data.data());
  view.nbytes = data.size() * sizeof(float);
  const TensorView rows = row_slice(view, 1, 3);
  EXPECT_EQ(rows.data, view.data + 16);
  EXPECT_EQ(rows.shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(rows.to_floats()[0], 4.f);
  std::vector<std::byte> storage;
  const TensorView columns = column_slice(view, 1, 3, storage);
  EXPECT_EQ(columns.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(columns.to_floats(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
}

}  // namespace
}  // namespace slkv
