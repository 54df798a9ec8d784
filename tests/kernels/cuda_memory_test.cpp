// The CUDA backend's memory helpers: DeviceMemoryPool's size classes (host
// arithmetic, runs everywhere CUDA is compiled), block reuse and BackendBuffer
// round trips in device memory (need a device; skipped without one).
#include <gtest/gtest.h>

#ifdef SLKV_HAVE_CUDA

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "kernels/backend_buffer.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/device_memory_pool.h"

namespace slkv {
namespace {

TEST(DeviceMemoryPool, SizeClasses) {
  EXPECT_EQ(DeviceMemoryPool::rounded_size(0), 256u);
  EXPECT_EQ(DeviceMemoryPool::rounded_size(1), 256u);
  EXPECT_EQ(DeviceMemoryPool::rounded_size(256), 256u);
  EXPECT_EQ(DeviceMemoryPool::rounded_size(257), 512u);
  EXPECT_EQ(DeviceMemoryPool::rounded_size(1 << 20), size_t(1) << 20);
  // Above 1 MiB: eighths of the power of two below.
  EXPECT_EQ(DeviceMemoryPool::rounded_size((1 << 20) + 1), (size_t(1) << 20) + (size_t(1) << 17));
  EXPECT_EQ(DeviceMemoryPool::rounded_size(size_t(3) << 29), size_t(3) << 29);
  for (size_t bytes : {size_t(1000), size_t(5) << 20, (size_t(1) << 33) + 7}) {
    const size_t rounded = DeviceMemoryPool::rounded_size(bytes);
    EXPECT_GE(rounded, bytes);
    EXPECT_LE(rounded, bytes + bytes / 8 + 256);
    EXPECT_EQ(DeviceMemoryPool::rounded_size(rounded), rounded) << "a class is its own class";
  }
}

TEST(DeviceMemoryPool, ReusesReleasedBlocks) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: cannot allocate device memory";
  DeviceMemoryPool pool;
  void* a = pool.allocate(1000);
  EXPECT_EQ(pool.bytes_in_use(), 1024u);
  pool.release(a);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  EXPECT_EQ(pool.bytes_cached(), 1024u);
  void* b = pool.allocate(1020);  // same size class: the cached block
  EXPECT_EQ(b, a);
  void* c = pool.allocate(1000);  // the class is empty again: a new block
  EXPECT_NE(c, a);
  pool.release(b);
  pool.release(c);
  pool.trim();
  EXPECT_EQ(pool.bytes_cached(), 0u);
}

// Device data held by host code: a BackendBuffer of the CUDA backend.
TEST(CudaBackendBuffer, RoundTripMoveAndZero) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: cannot allocate device memory";
  std::unique_ptr<Backend> cuda = make_cuda_backend();
  const std::vector<int32_t> values{1, -2, 3, 1 << 30};
  const int64_t bytes = int64_t(values.size() * sizeof(int32_t));
  BackendBuffer buffer(*cuda, bytes);
  EXPECT_EQ(buffer.bytes(), bytes);
  cuda->copy_from_host(buffer.data(), values.data(), bytes);
  std::vector<int32_t> back(values.size());
  cuda->copy_to_host(back.data(), buffer.ints(), bytes);
  EXPECT_EQ(back, values);
  void* const data = buffer.data();
  buffer.reserve(*cuda, bytes / 2);  // smaller: keeps the allocation and its contents
  EXPECT_EQ(buffer.data(), data);
  BackendBuffer moved = std::move(buffer);
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(moved.data(), data);
  cuda->fill_zero(moved.data(), bytes);
  cuda->copy_to_host(back.data(), moved.data(), bytes);
  EXPECT_EQ(back, std::vector<int32_t>(values.size(), 0));
  moved.reset();
  EXPECT_EQ(moved.data(), nullptr);
}

}  // namespace
}  // namespace slkv

#endif  // SLKV_HAVE_CUDA
