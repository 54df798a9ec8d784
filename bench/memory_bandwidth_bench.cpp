// The machine's memory read bandwidth (AVX-512 loads over a 1 GiB buffer,
// best of 5 passes) for 1 and 2 threads: the ceiling for the decode matmuls
// of kernels_bench, whose weight streams should come close to it.
#include <benchmark/benchmark.h>

#include "kernels/cpu/memory_bandwidth.h"

namespace {

void MemoryRead(benchmark::State& state) {
  const int threads = int(state.range(0));
  double gbps = 0;
  for (auto _ : state) gbps = slkv::measure_memory_read_bandwidth_gbps(threads);
  state.counters["GB/s"] = gbps;
}

BENCHMARK(MemoryRead)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
