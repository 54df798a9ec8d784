#include "kernels/cpu/copy_regions.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"

namespace slkv::cpu {

void copy_regions(std::span<const CopyRegion> regions) {
  std::vector<std::pair<const std::byte*, const std::byte*>> destinations;
  for (const CopyRegion& region : regions) {
    SLKV_CHECK(region.bytes >= 0, "copying " << region.bytes << " bytes");
    const auto* begin = static_cast<const std::byte*>(region.dst);
    const auto* source = static_cast<const std::byte*>(region.src);
    SLKV_CHECK(region.bytes == 0 || begin + region.bytes <= source || source + region.bytes <= begin,
               "copy_regions: a region overlaps its own source");
    if (region.bytes > 0) destinations.emplace_back(begin, begin + region.bytes);
  }
  std::sort(destinations.begin(), destinations.end());
  for (size_t i = 1; i < destinations.size(); ++i)
    SLKV_CHECK(destinations[i - 1].second <= destinations[i].first, "copy_regions: two regions write the same bytes");
  for (const CopyRegion& region : regions)
    if (region.bytes > 0) std::memcpy(region.dst, region.src, static_cast<size_t>(region.bytes));
}

}  // namespace slkv::cpu
