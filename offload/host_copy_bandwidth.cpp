#include "offload/host_copy_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/stats.h"
#include "kernels/backend_buffer.h"

namespace slkv {
namespace {

// Pinned host memory from the backend, released when it goes away.
class HostAllocation {
 public:
  HostAllocation(Backend& backend, int64_t bytes)
      : backend_(backend), data_(static_cast<unsigned char*>(backend.allocate_host(bytes))) {}
  ~HostAllocation() { backend_.release_host(data_); }
  HostAllocation(const HostAllocation&) = delete;
  HostAllocation& operator=(const HostAllocation&) = delete;
  unsigned char* data() const { return data_; }

 private:
  Backend& backend_;
  unsigned char* data_;
};

// Regions covering [0, bytes) of dst and src in `region_bytes` pieces.
std::vector<CopyRegion> split(void* dst, const void* src, int64_t bytes, int64_t region_bytes) {
  std::vector<CopyRegion> regions;
  for (int64_t offset = 0; offset < bytes; offset += region_bytes)
    regions.push_back({static_cast<unsigned char*>(dst) + offset, static_cast<const unsigned char*>(src) + offset,
                       std::min(region_bytes, bytes - offset)});
  return regions;
}

// Median GB/s of `repeats` timed copies of `regions` (after one warm-up).
double time_copies(Backend& backend, const std::vector<CopyRegion>& regions, bool to_host, int64_t bytes, int repeats) {
  std::vector<double> gbps;
  for (int r = -1; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    backend.copy_host_regions(regions, to_host);
    backend.wait_host_copies();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r >= 0) gbps.push_back(static_cast<double>(bytes) / seconds / 1e9);
  }
  return median(gbps);
}

}  // namespace

HostCopyBandwidth measure_host_copy_bandwidth(Backend& backend, int64_t bytes, int64_t region_bytes, int repeats) {
  if (bytes < 1 || region_bytes < 1 || repeats < 1)
    throw UsageError("host copy bandwidth: bytes, region bytes and repeats must be positive");
  HostAllocation source(backend, bytes), back(backend, bytes);
  // A pattern that no offset or stale buffer reproduces.
  for (int64_t i = 0; i < bytes; ++i) source.data()[i] = static_cast<unsigned char>((i * 131 + i / 4093) & 0xff);
  std::memset(back.data(), 0, static_cast<size_t>(bytes));
  BackendBuffer device(backend, bytes);

  HostCopyBandwidth result;
  result.to_device_gbps = time_copies(backend, split(device.data(), source.data(), bytes, region_bytes), false, bytes, repeats);
  result.to_host_gbps = time_copies(backend, split(back.data(), device.data(), bytes, region_bytes), true, bytes, repeats);
  if (std::memcmp(source.data(), back.data(), static_cast<size_t>(bytes)) != 0)
    throw Error("host copy bandwidth: the bytes copied to the backend and back differ from the source");
  return result;
}

}  // namespace slkv
