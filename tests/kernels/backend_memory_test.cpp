// The memory half of the Backend interface on the CPU backend, and
// BackendBuffer's ownership rules (the runtime keeps activations, weights and
// KV blocks in backend memory through them).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/backend_buffer.h"
#include "core/error.h"

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

TEST(BackendMemory, CpuCopyRegionsGathersScatteredSources) {
  std::unique_ptr<Backend> backend = make_cpu_backend(1);
  // Three separate source allocations, each filled with its own byte pattern.
  const int64_t source_bytes[] = {1000, 37, 4096};
  std::vector<std::vector<uint8_t>> host_sources;
  std::vector<uint8_t*> sources;
  for (int s = 0; s < 3; ++s) {
    std::vector<uint8_t> bytes(static_cast<size_t>(source_bytes[s]));
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + s * 101 + 1);
    sources.push_back(static_cast<uint8_t*>(backend->allocate(source_bytes[s])));
    backend->copy_from_host(sources.back(), bytes.data(), source_bytes[s]);
    host_sources.push_back(std::move(bytes));
  }
  const int64_t dst_bytes = 2048;
  uint8_t* dst = static_cast<uint8_t*>(backend->allocate(dst_bytes));
  std::vector<uint8_t> expected(static_cast<size_t>(dst_bytes), 0xEE);
  backend->copy_from_host(dst, expected.data(), dst_bytes);

  struct Piece {
    int source;
    int64_t offset, bytes;
  };
  // Odd and even sizes and offsets, a zero-byte region, one byte, a whole source.
  const Piece pieces[] = {{2, 3, 129}, {0, 0, 64},    {1, 0, 37},   {0, 999, 1}, {2, 100, 0},
                          {1, 5, 11},  {2, 4000, 96}, {0, 17, 513}, {2, 1, 0},   {0, 500, 7}};
  std::vector<CopyRegion> regions;
  int64_t at = 1;  // the destination starts one byte in: nothing is aligned
  for (const Piece& p : pieces) {
    regions.push_back({dst + at, sources[p.source] + p.offset, p.bytes});
    std::memcpy(expected.data() + at, host_sources[p.source].data() + p.offset, static_cast<size_t>(p.bytes));
    at += p.bytes;
  }
  ASSERT_LT(at, dst_bytes);
  backend->copy_regions(regions);
  backend->copy_regions(std::span<const CopyRegion>());  // nothing to copy

  std::vector<uint8_t> got(static_cast<size_t>(dst_bytes));
  backend->copy_to_host(got.data(), dst, dst_bytes);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(int(got[i]), int(expected[i])) << "byte " << i;
  // The sources are read, not changed.
  for (int s = 0; s < 3; ++s) {
    std::vector<uint8_t> back(host_sources[s].size());
    backend->copy_to_host(back.data(), sources[s], source_bytes[s]);
    EXPECT_EQ(back, host_sources[s]) << "source " << s;
  }
  EXPECT_THROW(backend->copy_regions(std::vector<CopyRegion>{{dst, sources[0], -1}}), InternalError);
  for (uint8_t* source : sources) backend->release(source);
  backend->release(dst);
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

// The VmFlags line of the mapping in /proc/self/smaps that holds `address`.
std::string vm_flags_of(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') inside = begin <= target && target < end;
    else if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

// Weights and KV are streamed from these allocations: from 2 MiB on they
// start on a huge page and ask for transparent huge pages ("hg"), whether
// the backend or a BackendBuffer allocates them (a 1.26B-model decode takes
// 3-8 % less time a token on huge pages).
TEST(BackendMemory, CpuAllocationsOfTwoMibOrMoreAskForHugePages) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) GTEST_SKIP() << "no THP in this kernel";
  constexpr int64_t kBytes = int64_t(6) << 20;
  std::unique_ptr<Backend> backend = make_cpu_backend(1);
  void* direct = backend->allocate(kBytes);
  BackendBuffer buffer(*backend, kBytes);
  for (void* data : {direct, buffer.data()}) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % (uintptr_t(2) << 20), 0u);
    std::memset(data, 1, kBytes);
    EXPECT_NE(vm_flags_of(data).find(" hg"), std::string::npos) << vm_flags_of(data);
  }
  void* small = backend->allocate(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 64, 0u);
  backend->release(small);
  backend->release(direct);
}

// A GPU runs the regions at once, so the CPU holds callers to the contract.
TEST(BackendMemory, CpuCopyRegionsRefusesOverlaps) {
  auto backend = make_cpu_backend(1);
  std::vector<float> source(8, 1.f), target(8, 0.f);
  const std::vector<CopyRegion> same_bytes = {{target.data(), source.data(), 16},
                                              {target.data() + 2, source.data(), 16}};
  EXPECT_THROW(backend->copy_regions(same_bytes), InternalError);
  const std::vector<CopyRegion> onto_own_source = {{source.data() + 1, source.data(), 16}};
  EXPECT_THROW(backend->copy_regions(onto_own_source), InternalError);
  EXPECT_EQ(target, std::vector<float>(8, 0.f));  // refused before anything was copied
  const std::vector<CopyRegion> touching = {{target.data(), source.data(), 16}, {target.data() + 4, source.data(), 16}};
  backend->copy_regions(touching);
  EXPECT_EQ(target, std::vector<float>(8, 1.f));
}

}  // namespace
}  // namespace slkv
