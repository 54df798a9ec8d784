#pragma once
// The CPU's last-level cache: decode figures of a model whose weights fit in
// it measure the cache, not DRAM, so the benchmarks report it and warn.
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace slkv {

struct CpuCache {
  int level = 0;      // 0 when unknown
  int64_t bytes = 0;  // 0 when unknown
};

// From /sys/devices/system/cpu/cpu0/cache/index*/{level,size} (the highest
// level), else glibc's sysconf (_SC_LEVEL3/2_CACHE_SIZE, from CPUID), which
// answers where a VM hides the sysfs entries.
CpuCache last_level_cache();

// The same read from another sysfs cache directory (tests); {0, 0} when it has no entries.
CpuCache last_level_cache_in(const std::filesystem::path& cache_dir);

// A sysfs cache size ("32768K", "1M", "512") in bytes; -1 when malformed.
int64_t parse_cache_size(std::string_view text);

}  // namespace slkv
