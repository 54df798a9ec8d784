// measure_memory_read_bandwidth_gbps returns a plausible figure.
#include "kernels/cpu/memory_bandwidth.h"

#include <gtest/gtest.h>

#include <cmath>

namespace slkv {
namespace {

TEST(MemoryBandwidthTest, ReturnsPositiveFiniteFigure) {
  for (int threads : {1, 2}) {
    for (int streams : {8, 16}) {
      const double gbps = measure_memory_read_bandwidth_gbps(threads, size_t(16) << 20, streams);
      EXPECT_TRUE(std::isfinite(gbps)) << threads << " threads, " << streams << " streams";
      EXPECT_GT(gbps, 0.1) << threads << " threads, " << streams << " streams";
    }
  }
}

TEST(MemoryBandwidthTest, RejectsOtherStreamCounts) {
  EXPECT_ANY_THROW(measure_memory_read_bandwidth_gbps(1, size_t(1) << 20, 4));
}

}  // namespace
}  // namespace slkv
