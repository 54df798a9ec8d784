// median() of repeated measurements.
#include "core/stats.h"

#include <gtest/gtest.h>

namespace slkv {
namespace {

TEST(Median, OddCountIsTheMiddleValue) {
  EXPECT_EQ(median({7.0}), 7.0);
  EXPECT_EQ(median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(median({5.0, 1.0, 100.0, 2.0, 3.0}), 3.0);
}

TEST(Median, EvenCountIsTheMeanOfTheTwoMiddleValues) {
  EXPECT_EQ(median({1.0, 2.0}), 1.5);
  EXPECT_EQ(median({10.0, 1.0, 4.0, 2.0}), 3.0);
  EXPECT_EQ(median({2.0, 2.0, 2.0, 9.0}), 2.0);
}

TEST(Median, NoValuesIsABug) { EXPECT_THROW(median({}), InternalError); }

}  // namespace
}  // namespace slkv
