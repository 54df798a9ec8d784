#pragma once
// Host memory: how much the kernel says is available, and the aligned
// allocations that the CPU backend's weights, activations and KV live in.
#include <cstdint>

namespace slkv {

// Bytes, or -1 when /proc/meminfo cannot be read.
int64_t host_memory_available_bytes();

// At least `bytes` bytes (one for 0), 64-byte aligned so that SIMD rows start
// on cache lines. From 2 MiB on, 2 MiB-aligned and its whole 2 MiB pages
// marked for transparent huge pages: weights streamed from huge pages decode
// faster (fewer TLB misses and page walks per byte; 1.26B F32 model: 78 ms
// a token against 80-81 from 4 KiB pages).
// Null when the memory is not there. Free with free_host_memory().
void* allocate_host_memory(int64_t bytes);
void free_host_memory(void* data);

}  // namespace slkv
