#include "core/cpu_cache.h"

#include <unistd.h>

#include <cctype>
#include <fstream>
#include <string>

namespace slkv {

int64_t parse_cache_size(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty()) return -1;
  int64_t unit = 1;
  if (text.back() == 'K') unit = 1024;
  if (text.back() == 'M') unit = 1024 * 1024;
  if (text.back() == 'G') unit = int64_t{1} << 30;
  if (unit != 1) text.remove_suffix(1);
  if (text.empty()) return -1;
  int64_t value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    value = value * 10 + (c - '0');
  }
  return value * unit;
}

CpuCache last_level_cache_in(const std::filesystem::path& cache_dir) {
  CpuCache best;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(cache_dir, error)) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    std::ifstream level_file(entry.path() / "level"), size_file(entry.path() / "size");
    int level = 0;
    std::string size;
    if (!(level_file >> level) || !(size_file >> size)) continue;
    const int64_t bytes = parse_cache_size(size);
    if (bytes > 0 && level > best.level) best = {level, bytes};
  }
  return best;
}

CpuCache last_level_cache() {
  const CpuCache sysfs = last_level_cache_in("/sys/devices/system/cpu/cpu0/cache");
  if (sysfs.bytes > 0) return sysfs;
#if defined(_SC_LEVEL3_CACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
  if (const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE); l3 > 0) return {3, l3};
  if (const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE); l2 > 0) return {2, l2};
#endif
  return {};
}

}  // namespace slkv
