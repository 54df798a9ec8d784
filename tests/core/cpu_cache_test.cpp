#include "core/cpu_cache.h"

#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

namespace slkv {
namespace {

TEST(CpuCache, ParsesSysfsSizes) {
  EXPECT_EQ(parse_cache_size("32768K"), 32768 * 1024);
  EXPECT_EQ(parse_cache_size("1M\n"), 1024 * 1024);
  EXPECT_EQ(parse_cache_size("512"), 512);
  EXPECT_EQ(parse_cache_size("K"), -1);
  EXPECT_EQ(parse_cache_size("12x"), -1);
  EXPECT_EQ(parse_cache_size(""), -1);
}

TEST(CpuCache, TakesTheHighestLevelOfASysfsDirectory) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("slkv_cache_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto entry = [&](const std::string& name, int level, const std::string& size) {
    std::filesystem::create_directories(dir / name);
    std::ofstream(dir / name / "level") << level << "\n";
    std::ofstream(dir / name / "size") << size << "\n";
  };
  entry("index0", 1, "48K");
  entry("index2", 2, "1024K");
  entry("index3", 3, "32768K");
  std::filesystem::create_directories(dir / "power");
  const CpuCache cache = last_level_cache_in(dir);
  EXPECT_EQ(cache.level, 3);
  EXPECT_EQ(cache.bytes, int64_t{32} << 20);
  EXPECT_EQ(last_level_cache_in(dir / "missing").bytes, 0);
  std::filesystem::remove_all(dir);
}

TEST(CpuCache, ThisMachinesCacheIsKnownOrZero) {
  const CpuCache cache = last_level_cache();
  EXPECT_GE(cache.bytes, 0);
  if (cache.bytes > 0) {
    EXPECT_GE(cache.level, 2);
  }
}

}  // namespace
}  // namespace slkv
