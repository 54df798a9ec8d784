// measure_memory_read_bandwidth_gbps returns a plausible figure.
#include "kernels/cpu/memory_bandwidth.h"

#include <gtest/gtest.h>

#include <cmath>

namespace slkv {
namespace {

TEST(MemoryBandwidthTest, ReturnsPositiveFiniteFigure) {
  for (int threads : {1, 2}) {
    const double gbps = measure_memory_read_bandwidth_gbps(threads, size_t(16) << 20);
    EXPECT_TRUE(std::isfinite(gbps));
    EXPECT_GT(gbps, 0.1);
  }
}

}  // namespace
}  // namespace slkv
