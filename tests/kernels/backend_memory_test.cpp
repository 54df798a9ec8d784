// The memory half of the Backend interface on the CPU backend, and
// BackendBuffer's ownership rules (the runtime keeps activations, weights and
// KV blocks in backend memory through them).
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "kernels/backend.h"
#include "kernels/backend_buffer.h"

namespace slkv {
namespace {

TEST(BackendMemory, CpuCopiesAndZeroes) {
  std::unique_ptr<Backend> backend = make_cpu_backend(1);
  EXPECT_TRUE(backend->uses_host_memory());
  const int64_t bytes = 100 * sizeof(float);
  void* a = backend->allocate(bytes);
  void* b = backend->allocate(bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u) << "rows start on cache lines";
  std::vector<float> host(100), back(100, -1.f);
  std::iota(host.begin(), host.end(), 1.f);
  backend->copy_from_host(a, host.data(), bytes);
  backend->copy(b, a, bytes);
  backend->copy_to_host(back.data(), b, bytes);
  EXPECT_EQ(back, host);
  backend->fill_zero(b, bytes / 2);
  backend->copy_to_host(back.data(), b, bytes);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(back[i], i < 50 ? 0.f : host[i]) << i;
  backend->release(a);
  backend->release(b);
  backend->release(nullptr);
}

TEST(BackendMemory, BufferGrowsKeepsCapacityAndOutlivesAHostBackend) {
  BackendBuffer buffer;
  {
    std::unique_ptr<Backend> backend = make_cpu_backend(1);
    buffer.reserve(*backend, 256);
    void* first = buffer.data();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(buffer.bytes(), 256);
    buffer.reserve(*backend, 128);  // fits: same allocation
    EXPECT_EQ(buffer.data(), first);
    buffer.reserve(*backend, 4096);  // grows
    EXPECT_EQ(buffer.bytes(), 4096);
    buffer.floats()[1023] = 7.f;  // the whole range is writable
  }
  // The CPU backend is gone; host buffers do not refer to it.
  EXPECT_EQ(buffer.floats()[1023], 7.f);
  BackendBuffer moved = std::move(buffer);
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(moved.bytes(), 4096);
  moved.reset();
  EXPECT_EQ(moved.data(), nullptr);
}

}  // namespace
}  // namespace slkv
