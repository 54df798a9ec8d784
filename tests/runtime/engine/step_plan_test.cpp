// StepPlan: the broadcast encoding gives back every field.
#include "runtime/engine/step_plan.h"

#include <gtest/gtest.h>

namespace slkv {
namespace {

TEST(StepPlan, EncodingRoundTrips) {
  StepPlan plan;
  plan.removed = {3, 9};
  plan.preempted = {4};
  plan.evicted = {6, 8};
  plan.forks = {PlannedFork{1, 12, false}, PlannedFork{2, 13, true}};
  KvPolicyConfig policy;
  policy.kind = KvPolicyKind::SimLayerKVSnapKV;
  policy.threshold = 0.8125;
  policy.detect = LazyDetect::Decode;
  policy.sink = 2;
  policy.recent = 77;
  policy.obs_window = 5;
  policy.growth = WindowGrowth::Grow;
  policy.snapkv_budget = 31;
  policy.snapkv_pool = 3;
  policy.fixed_lazy_layers = {true, false, true};
  policy.reidentify = Reidentify::Cached;
  plan.added = {PlannedSequence{14, 123, true, policy}};
  plan.rebuilt = {5};
  plan.turns = {PlannedTurn{7, 100, 130, true}, PlannedTurn{11, 5, 6, false}};
  plan.chunks = {PlannedChunk{14, 0, {1, 2, 3}}, PlannedChunk{5, 40, {7}}};

  const StepPlan back = StepPlan::decode(plan.encode());
  EXPECT_FALSE(back.stop);
  EXPECT_EQ(back.removed, plan.removed);
  EXPECT_EQ(back.preempted, plan.preempted);
  EXPECT_EQ(back.evicted, plan.evicted);
  ASSERT_EQ(back.forks.size(), 2u);
  EXPECT_EQ(back.forks[1].parent, 2);
  EXPECT_EQ(back.forks[1].child, 13);
  EXPECT_TRUE(back.forks[1].copy_blocks);
  ASSERT_EQ(back.added.size(), 1u);
  const KvPolicyConfig& p = back.added[0].policy;
  EXPECT_EQ(back.added[0].sequence, 14);
  EXPECT_EQ(back.added[0].prompt_tokens, 123);
  EXPECT_TRUE(back.added[0].park);
  EXPECT_EQ(p.reidentify, Reidentify::Cached);
  EXPECT_EQ(p.kind, policy.kind);
  EXPECT_EQ(p.threshold, policy.threshold);
  EXPECT_EQ(p.detect, policy.detect);
  EXPECT_EQ(p.sink, 2);
  EXPECT_EQ(p.recent, 77);
  EXPECT_EQ(p.obs_window, 5);
  EXPECT_EQ(p.growth, WindowGrowth::Grow);
  EXPECT_EQ(p.snapkv_budget, 31);
  EXPECT_EQ(p.snapkv_pool, 3);
  EXPECT_EQ(p.fixed_lazy_layers, policy.fixed_lazy_layers);
  EXPECT_EQ(back.rebuilt, plan.rebuilt);
  ASSERT_EQ(back.turns.size(), 2u);
  EXPECT_EQ(back.turns[0].sequence, 7);
  EXPECT_EQ(back.turns[0].first, 100);
  EXPECT_EQ(back.turns[0].end, 130);
  EXPECT_TRUE(back.turns[0].restore);
  EXPECT_FALSE(back.turns[1].restore);
  ASSERT_EQ(back.chunks.size(), 2u);
  EXPECT_EQ(back.chunks[0].tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(back.chunks[1].first_position, 40);

  StepPlan stop;
  stop.stop = true;
  EXPECT_TRUE(StepPlan::decode(stop.encode()).stop);
  EXPECT_TRUE(StepPlan{}.empty());
}

}  // namespace
}  // namespace slkv
