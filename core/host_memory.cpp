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
  const size_t wanted = static_cast<size_t>(std::max<int64_t>(bytes, 1));
  const size_t alignment = wanted >= kHugePage ? kHugePage : 64;
  const size_t size = (wanted + alignment - 1) / alignment * alignment;
  void* data = std::aligned_alloc(alignment, size);
  // A hint: where THP is off (or "never") it changes nothing.
  if (data && alignment == kHugePage) madvise(data, size, MADV_HUGEPAGE);
  return data;
}

void free_host_memory(void* data) { std::free(data); }

}  // namespace slkv
