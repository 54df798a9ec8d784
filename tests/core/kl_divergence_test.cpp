// kl_divergence: KL(p || q) of two softmaxes.
#include "core/kl_divergence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace slkv {
namespace {

TEST(KlDivergence, ZeroForTheSameDistributionAndShiftInvariant) {
  const std::vector<float> p = {1.f, 2.f, 3.f}, shifted = {11.f, 12.f, 13.f};
  EXPECT_EQ(kl_divergence(p, p), 0.0);
  EXPECT_NEAR(kl_divergence(p, shifted), 0.0, 1e-12);
}

TEST(KlDivergence, MatchesTheDefinition) {
  // p = softmax(0, log 3) = (1/4, 3/4), q = uniform: KL = 1/4 ln(1/2) + 3/4 ln(3/2).
  const std::vector<float> p = {0.f, static_cast<float>(std::log(3.0))}, q = {0.f, 0.f};
  EXPECT_NEAR(kl_divergence(p, q), 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-7);
  EXPECT_GT(kl_divergence(q, p), 0.0);
}

}  // namespace
}  // namespace slkv
