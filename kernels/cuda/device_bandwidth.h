#pragma once
// Figures of the current CUDA device's memory that benchmarks set their
// results against: the achievable read bandwidth (the memory floor of a
// decode step) and how much memory is free. Plain C++ header (no CUDA
// headers); compiled only with SLKV_HAVE_CUDA.
#include <cstdint>

namespace slkv {

// Reads a freshly allocated device buffer of `bytes` (at least 1 GiB by
// default, far beyond L2) with 16-byte loads and returns the best of a few
// event-timed passes in GB/s (1e9 bytes/s). Throws slkv::Error when the
// buffer cannot be allocated.
double measure_device_read_bandwidth_gbps(int64_t bytes = int64_t(1) << 30);

// Bytes of memory the current device has free right now (cudaMemGetInfo).
int64_t device_free_memory_bytes();

}  // namespace slkv
