#include "kernels/cpu/memory_bandwidth.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "kernels/cpu/simd.h"
#include "core/error.h"
#include "core/host_memory.h"

namespace slkv {
namespace {

constexpr size_t kVectorBytes = 64;
constexpr int kPasses = 5;

struct HostMemoryDeleter {
  void operator()(float* p) const { free_host_memory(p); }
};

// Sums vectors [begin, end) read as kStreams interleaved sequential streams,
// as the decode matmul reads several weight rows at once: one stream per
// thread leaves bandwidth unused. The sum is returned so the reads cannot be
// optimised away.
template <size_t kStreams>
float sum_vectors(const float* data, size_t begin, size_t end) {
  const size_t per_stream = (end - begin) / kStreams;
  __m512 acc[kStreams];
  for (size_t s = 0; s < kStreams; ++s) acc[s] = _mm512_setzero_ps();
  for (size_t i = 0; i < per_stream; ++i)
    for (size_t s = 0; s < kStreams; ++s)
      acc[s] = _mm512_add_ps(acc[s], _mm512_load_ps(data + (begin + s * per_stream + i) * 16));
  for (size_t v = begin + kStreams * per_stream; v < end; ++v)
    acc[0] = _mm512_add_ps(acc[0], _mm512_load_ps(data + v * 16));
  __m512 total = acc[0];
  for (size_t s = 1; s < kStreams; ++s) total = _mm512_add_ps(total, acc[s]);
  return _mm512_reduce_add_ps(total);
}

}  // namespace

double measure_memory_read_bandwidth_gbps(int n_threads, size_t bytes, int streams) {
  SLKV_CHECK(n_threads >= 1, "n_threads " << n_threads);
  SLKV_CHECK(streams == 8 || streams == 16, "streams " << streams << " (8 or 16)");
  const size_t n_vectors = std::max<size_t>(bytes / kVectorBytes, 1);
  // The memory the weights live in (huge pages), so that both see the same
  // TLB costs.
  std::unique_ptr<float, HostMemoryDeleter> buffer(
      static_cast<float*>(allocate_host_memory(static_cast<int64_t>(n_vectors * kVectorBytes))));
  SLKV_CHECK(buffer, "cannot allocate " << bytes << " bytes");
  float* data = buffer.get();

  // Each thread first touches the part it will read (pages then sit near it).
  auto share = [&](int thread, int count) {
    return std::pair<size_t, size_t>(n_vectors * thread / count, n_vectors * (thread + 1) / count);
  };
#pragma omp parallel num_threads(n_threads)
  {
    auto [begin, end] = share(omp_get_thread_num(), omp_get_num_threads());
    std::fill(data + begin * 16, data + end * 16, 1.f);
  }

  double best_seconds = 1e30;
  volatile float sink = 0.f;
  for (int pass = 0; pass < kPasses; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    float total = 0.f;
#pragma omp parallel num_threads(n_threads) reduction(+ : total)
    {
      auto [begin, end] = share(omp_get_thread_num(), omp_get_num_threads());
      total += streams == 8 ? sum_vectors<8>(data, begin, end) : sum_vectors<16>(data, begin, end);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sink = sink + total;
    best_seconds = std::min(best_seconds, seconds);
  }
  return double(n_vectors * kVectorBytes) / best_seconds * 1e-9;
}

}  // namespace slkv
