#include "core/host_memory.h"

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

}  // namespace slkv
