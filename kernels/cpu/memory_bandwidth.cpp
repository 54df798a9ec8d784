#include "kernels/cpu/memory_bandwidth.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>

#include "kernels/cpu/simd.h"
#include "runtime/error.h"

namespace slkv {
namespace {

constexpr size_t kVectorBytes = 64;
constexpr int kPasses = 5;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

// Sums vectors [begin, end) with four accumulators, so the adds never limit
// the loads; the sum is returned so the reads cannot be optimised away.
float sum_vectors(const float* data, size_t begin, size_t end) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t v = begin;
  for (; v + 4 <= end; v += 4) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(data + (v + 0) * 16));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(data + (v + 1) * 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(data + (v + 2) * 16));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(data + (v + 3) * 16));
  }
  for (; v < end; ++v) a0 = _mm512_add_ps(a0, _mm512_load_ps(data + v * 16));
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

}  // namespace

double measure_memory_read_bandwidth_gbps(int n_threads, size_t bytes) {
  SLKV_CHECK(n_threads >= 1, "n_threads " << n_threads);
  const size_t n_vectors = std::max<size_t>(bytes / kVectorBytes, 1);
  std::unique_ptr<float, FreeDeleter> buffer(static_cast<float*>(std::aligned_alloc(kVectorBytes, n_vectors * kVectorBytes)));
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
      total += sum_vectors(data, begin, end);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sink = sink + total;
    best_seconds = std::min(best_seconds, seconds);
  }
  return double(n_vectors * kVectorBytes) / best_seconds * 1e-9;
}

}  // namespace slkv
