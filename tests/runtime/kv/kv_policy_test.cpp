// KvPolicyConfig parsing/validation, presets, and SnapKV's selection rule.
#include "runtime/kv/kv_policy.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/error.h"

namespace slkv {
namespace {

TEST(KvPolicyConfig, BadValuesAreRejected) {
  auto with = [](auto change) {
    KvPolicyConfig config;
    change(config);
    return config;
  };
  EXPECT_THROW(with([](auto& c) { c.sink = -1; }).validate(), Error);
  EXPECT_THROW(with([](auto& c) { c.recent = -5; }).validate(), Error);
  EXPECT_THROW(with([](auto& c) { c.obs_window = 0; }).validate(), Error);
  EXPECT_THROW(with([](auto& c) { c.threshold = std::numeric_limits<double>::quiet_NaN(); }).validate(), Error);
  EXPECT_THROW(with([](auto& c) { c.snapkv_pool = 4; }).validate(), Error);
  EXPECT_THROW(parse_kv_policy("h2o"), Error);
  EXPECT_THROW(parse_lazy_detect("sometimes"), Error);
  EXPECT_THROW(parse_lazy_window("shrink"), Error);
  EXPECT_NO_THROW(KvPolicyConfig{}.validate());
}

TEST(KvPolicyConfig, NamesRoundTrip) {
  for (auto kind : {KvPolicyKind::Full, KvPolicyKind::SimLayerKV, KvPolicyKind::Streaming, KvPolicyKind::SnapKV,
                    KvPolicyKind::SimLayerKVSnapKV})
    EXPECT_EQ(parse_kv_policy(kv_policy_name(kind)), kind);
}

TEST(KvPolicyConfig, PresetsFollowTheModelFamily) {
  ModelConfig model;
  const std::vector<std::pair<ModelFamily, double>> expected = {
      {ModelFamily::Llama2, 0.65}, {ModelFamily::Llama3, 0.9}, {ModelFamily::Mistral, 0.8}, {ModelFamily::Qwen2, 0.85}};
  for (auto [family, threshold] : expected) {
    model.family = family;
    KvPolicyConfig config = KvPolicyConfig::preset_for(model);
    EXPECT_DOUBLE_EQ(config.threshold, threshold);
    EXPECT_EQ(config.sink, 4);
    EXPECT_EQ(config.recent, 1024);
    EXPECT_EQ(config.obs_window, 32);
  }
}

TEST(SnapKVSelect, TakesTopPooledPositionsPlusWindow) {
  // One KV head, 10 scored keys, observation window 3 -> candidates 0..6.
  std::vector<float> mass = {0.9f, 0.0f, 0.1f, 0.0f, 0.0f, 0.5f, 0.0f, 1.f, 1.f, 1.f};
  auto kept = snapkv_select(mass, 1, 10, 11, 3, 2, 1);  // no pooling
  EXPECT_EQ(kept[0], (std::vector<int64_t>{0, 5, 7, 8, 9, 10}));
  // Kernel 3 spreads 0.9 to position 1 and 0.5 to 4 and 6: ties go to lower slots.
  kept = snapkv_select(mass, 1, 10, 10, 3, 3, 3);
  EXPECT_EQ(kept[0], (std::vector<int64_t>{0, 1, 4, 7, 8, 9}));
}

TEST(SnapKVSelect, HeadsChooseIndependently) {
  std::vector<float> mass = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0};  // 2 heads x 5 keys
  auto kept = snapkv_select(mass, 2, 5, 5, 1, 1, 1);
  EXPECT_EQ(kept[0], (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(kept[1], (std::vector<int64_t>{2, 4}));
}

}  // namespace
}  // namespace slkv
