// The offload path on the CUDA backend: pinned host memory, batched
// device<->host copies on the copy stream (cudaMemcpyBatchAsync) with their
// fence, and a windowed layer parked and restored bit for bit. Skipped, with
// the reason, where no CUDA device is visible (this build machine).
#include <gtest/gtest.h>

#ifdef SLKV_HAVE_CUDA

#include <cstring>
#include <memory>
#include <vector>

#include "kernels/backend_buffer.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#include "offload/host_copy_bandwidth.h"
#include "offload/offload_manager.h"
#include "runtime/kv/kv_cache.h"

namespace slkv {
namespace {

constexpr int64_t kHeads = 2, kDim = 8, kFloats = kHeads * kDim;

TEST(CudaOffload, HostCopiesRoundTripThroughPinnedMemory) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the offload copies need one";
  auto backend = make_cuda_backend();
  std::vector<float> source(4096);
  for (size_t i = 0; i < source.size(); ++i) source[i] = static_cast<float>(i) * 0.5f;
  BackendBuffer device;
  device.reserve(*backend, 4096 * sizeof(float));
  backend->copy_from_host(device.data(), source.data(), 4096 * sizeof(float));
  auto* pinned = static_cast<float*>(backend->allocate_host(4096 * sizeof(float)));
  // Three regions out, in pieces, then back to a second device buffer.
  const std::vector<CopyRegion> out = {{pinned, device.floats(), 1000 * sizeof(float)},
                                       {pinned + 1000, device.floats() + 1000, 3000 * sizeof(float)},
                                       {pinned + 4000, device.floats() + 4000, 96 * sizeof(float)}};
  backend->copy_host_regions(out, /*to_host=*/true);
  backend->wait_host_copies();
  EXPECT_EQ(std::memcmp(pinned, source.data(), 4096 * sizeof(float)), 0);
  BackendBuffer back;
  back.reserve(*backend, 4096 * sizeof(float));
  const std::vector<CopyRegion> in = {{back.floats(), pinned, 4096 * sizeof(float)}};
  backend->copy_host_regions(in, /*to_host=*/false);
  backend->fence_host_copies();
  std::vector<float> result(4096);
  backend->copy_to_host(result.data(), back.data(), 4096 * sizeof(float));
  EXPECT_EQ(result, source);
  backend->release_host(pinned);
}

TEST(CudaOffload, CopyBandwidthMovesEveryByteThroughPinnedMemory) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the offload copies need one";
  auto backend = make_cuda_backend();
  // The measurement compares what came back with what went out, so a copy
  // that drops or misplaces a region throws here.
  for (int64_t region_bytes : {int64_t{4093}, int64_t{64} << 10, int64_t{16} << 20}) {
    const HostCopyBandwidth measured = measure_host_copy_bandwidth(*backend, int64_t{16} << 20, region_bytes, 2);
    EXPECT_GT(measured.to_device_gbps, 0.0) << region_bytes;
    EXPECT_GT(measured.to_host_gbps, 0.0) << region_bytes;
  }
}

TEST(CudaOffload, AWindowedLayerIsParkedAndRestoredBitForBit) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the offload copies need one";
  auto backend = make_cuda_backend();
  OffloadManager offload(*backend, kFloats, int64_t{64} << 20);
  KvCache cache(KvCacheGeometry{1, kHeads, kDim, 16, 64}, *backend);
  cache.set_dropped_store(&offload);
  cache.add_sequence(0);
  offload.add_sequence(0);
  const int64_t tokens = 100;
  std::vector<float> keys(tokens * kFloats), values(tokens * kFloats);
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = static_cast<float>(i) + 0.25f;
    values[i] = -static_cast<float>(i);
  }
  BackendBuffer device_keys, device_values;
  device_keys.reserve(*backend, keys.size() * sizeof(float));
  device_values.reserve(*backend, values.size() * sizeof(float));
  backend->copy_from_host(device_keys.data(), keys.data(), keys.size() * sizeof(float));
  backend->copy_from_host(device_values.data(), values.data(), values.size() * sizeof(float));
  cache.append(0, 0, device_keys.floats(), device_values.floats(), tokens);
  cache.apply_window(0, 0, 4, 20, WindowGrowth::Rolling);
  EXPECT_EQ(offload.counters(0).bytes_parked, 76 * 2 * kFloats * static_cast<int64_t>(sizeof(float)));
  cache.restore_layer(0, 0);
  cache.complete_restores();
  for (int64_t slot = 0; slot < tokens; ++slot) {
    std::vector<float> key(kFloats), value(kFloats);
    backend->copy_to_host(key.data(), cache.key_at(0, 0, slot), kFloats * sizeof(float));
    backend->copy_to_host(value.data(), cache.value_at(0, 0, slot), kFloats * sizeof(float));
    ASSERT_EQ(std::memcmp(key.data(), keys.data() + slot * kFloats, kFloats * sizeof(float)), 0) << "slot " << slot;
    ASSERT_EQ(std::memcmp(value.data(), values.data() + slot * kFloats, kFloats * sizeof(float)), 0) << "slot " << slot;
  }
}

}  // namespace
}  // namespace slkv

#endif  // SLKV_HAVE_CUDA
