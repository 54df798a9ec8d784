#include "core/host_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

namespace slkv {

int64_t host_memory_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  int64_t kib = 0;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return -1;
}

void* allocate_host_memory(int64_t bytes) {
  constexpr size_t kHugePage = size_t(2) << 20;
  const size_t size = (static_cast<size_t>(std::max<int64_t>(bytes, 1)) + 63) / 64 * 64;
  void* data = nullptr;
  if (posix_memalign(&data, size >= kHugePage ? kHugePage : 64, size) != 0) return nullptr;
  // Huge pages for the whole 2 MiB pages only: a partial one at the end
  // would still take 2 MiB once touched (a 768 x 768 F32 matrix, 2.25 MiB,
  // would hold 4). The hint changes nothing where THP is off.
  if (size >= kHugePage) madvise(data, size / kHugePage * kHugePage, MADV_HUGEPAGE);
  return data;
}

void free_host_memory(void* data) { std::free(data); }

}  // namespace slkv
