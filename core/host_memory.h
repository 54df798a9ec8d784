#pragma once
// How much host memory the kernel says is available (MemAvailable in
// /proc/meminfo: free memory plus reclaimable page cache).
#include <cstdint>

namespace slkv {

// Bytes, or -1 when /proc/meminfo cannot be read.
int64_t host_memory_available_bytes();

}  // namespace slkv
