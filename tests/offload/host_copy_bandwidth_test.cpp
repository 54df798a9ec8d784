// measure_host_copy_bandwidth on the CPU backend: it moves (and checks) every
// byte for region sizes that do not divide the total, reports finite positive
// speeds, and refuses sizes that cannot be measured. The CUDA backend's run
// is in cuda_offload_test.cpp.
#include "offload/host_copy_bandwidth.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "kernels/backend.h"

namespace slkv {
namespace {

TEST(HostCopyBandwidth, MeasuresBothDirectionsForAnyRegionSize) {
  auto backend = make_cpu_backend(1);
  for (int64_t region_bytes : {int64_t{1}, int64_t{4093}, int64_t{65536}, int64_t{3} << 20}) {
    const int64_t bytes = (int64_t{1} << 20) + 3;
    const HostCopyBandwidth measured = measure_host_copy_bandwidth(*backend, bytes, region_bytes, 2);
    EXPECT_TRUE(std::isfinite(measured.to_device_gbps) && measured.to_device_gbps > 0) << region_bytes;
    EXPECT_TRUE(std::isfinite(measured.to_host_gbps) && measured.to_host_gbps > 0) << region_bytes;
  }
}

TEST(HostCopyBandwidth, RefusesEmptySizes) {
  auto backend = make_cpu_backend(1);
  EXPECT_THROW(measure_host_copy_bandwidth(*backend, 0, 64), UsageError);
  EXPECT_THROW(measure_host_copy_bandwidth(*backend, 64, 0), UsageError);
  EXPECT_THROW(measure_host_copy_bandwidth(*backend, 64, 64, 0), UsageError);
}

}  // namespace
}  // namespace slkv
