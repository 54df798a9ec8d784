#pragma once
// Achievable memory read bandwidth of this machine, so benchmarks can report
// a kernel's GB/s beside what the memory system delivers.
#include <cstddef>

namespace slkv {

// Reads a freshly allocated buffer of `bytes` with AVX-512 loads split over
// n_threads, each thread reading `streams` (8 or 16) interleaved sequential
// streams as the decode GEMV does (cpu::gemv_streams), and returns the best
// of a few passes in GB/s (1e9 bytes/s).
double measure_memory_read_bandwidth_gbps(int n_threads, size_t bytes = size_t(1) << 30, int streams = 8);

}  // namespace slkv
