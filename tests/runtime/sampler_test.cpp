// Sampler: greedy, seeded reproducibility, top-k / top-p restrictions, validation.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "kernels/cpu/sampling.h"

namespace slkv {
namespace {

// The token the sampler's next draw picks from a host row (the CPU reference draw).
int32_t sample(Sampler& sampler, std::span<const float> logits) {
  std::vector<std::pair<float, int32_t>> scratch;
  return cpu::draw_token(logits, sampler.next_draw(), scratch);
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 2.9f, 0.0f};

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  Sampler sampler(SamplingParams{});
  EXPECT_EQ(sample(sampler, kLogits), 1);
  EXPECT_EQ(cpu::argmax(std::vector<float>{2.f, 5.f, 5.f}), 1);
}

TEST(Sampler, SameSeedSameDraws) {
  SamplingParams params{1.0f, 0, 1.0f, 42};
  Sampler a(params), b(params);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sample(a, kLogits), sample(b, kLogits));
}

TEST(Sampler, TopKOnlyDrawsTheKBest) {
  Sampler sampler(SamplingParams{5.0f, 2, 1.0f, 7});
  std::set<int32_t> seen;
  for (int i = 0; i < 300; ++i) seen.insert(sample(sampler, kLogits));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 4}));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Probabilities at temperature 1: id1 ~0.36, id4 ~0.33, id2 ~0.22, ...
  Sampler sampler(SamplingParams{1.0f, 0, 0.6f, 3});
  std::set<int32_t> seen;
  for (int i = 0; i < 300; ++i) seen.insert(sample(sampler, kLogits));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 4}));
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  Sampler sampler(SamplingParams{1.0f, 0, 1.0f, 11});
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // probabilities 0.25 / 0.75
  int ones = 0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) ones += sample(sampler, logits) == 1;
  EXPECT_NEAR(ones / double(draws), 0.75, 0.02);
}

TEST(Sampler, BadParametersAreRejected) {
  EXPECT_THROW(SamplingParams({-1.0f, 0, 1.0f, 0}).validate(), Error);
  EXPECT_THROW(SamplingParams({std::numeric_limits<float>::quiet_NaN(), 0, 1.0f, 0}).validate(), Error);
  EXPECT_THROW(SamplingParams({1.0f, -3, 1.0f, 0}).validate(), Error);
  EXPECT_THROW(SamplingParams({1.0f, 0, 0.0f, 0}).validate(), Error);
  EXPECT_THROW(SamplingParams({1.0f, 0, 1.5f, 0}).validate(), Error);
}

}  // namespace
}  // namespace slkv
