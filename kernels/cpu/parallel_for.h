#pragma once
// parallel_for: OpenMP loops that skip OpenMP entirely when one thread is
// asked for, so small decode-time ops pay no fork/join or team setup.
#include <cstdint>

namespace slkv::cpu {

template <class Body>
void parallel_for(int64_t n, int n_threads, const Body& body) {
  if (n_threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// parallel_for with a dynamic schedule, for items of unequal cost (causal
// attention rows, sequences of different lengths).
template <class Body>
void parallel_for_dynamic(int64_t n, int n_threads, const Body& body) {
  if (n_threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for num_threads(n_threads) schedule(dynamic)
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace slkv::cpu
