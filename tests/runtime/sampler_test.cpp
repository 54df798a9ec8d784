// Sampler: greedy, seeded reproducibility, top-k / top-p restrictions, validation.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "runtime/error.h"

namespace slkv {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 2.9f, 0.0f};

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  Sampler sampler(SamplingParams{});
  EXPECT_EQ(sampler.sample(kLogits), 1);
  EXPECT_EQ(argmax(std::vector<float>{2.f, 5.f, 5.f}), 1);
}

TEST(Sampler, SameSeedSameDraws) {
  SamplingParams params{1.0f, 0, 1.0f, 42};
  Sampler a(params), b(params);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(kLogits), b.sample(kLogits));
}

TEST(Sampler, TopKOnlyDrawsTheKBest) {
  Sampler sampler(SamplingParams{5.0f, 2, 1.0f, 7});
  std::set<int32_t> seen;
  for (int i = 0; i < 300; ++i) seen.insert(sampler.sample(kLogits));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 4}));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Probabilities at temperature 1: id1 ~0.36, id4 ~0.33, id2 ~0.22, ...
  Sampler sampler(SamplingParams{1.0f, 0, 0.6f, 3});
  std::set<int32_t> seen;
  for (int i = 0; i < 300; ++i) seen.insert(sampler.sample(kLogits));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 4}));
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  Sampler sampler(SamplingParams{1.0f, 0, 1.0f, 11});
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // probabilities 0.25 / 0.75
  int ones = 0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) ones += sampler.sample(logits) == 1;
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
