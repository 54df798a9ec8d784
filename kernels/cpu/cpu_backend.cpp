#include "kernels/cpu/cpu_backend.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_mass.h"
#include "kernels/cpu/copy_regions.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/parallel_for.h"
#include "kernels/cpu/sampling.h"
#include "core/error.h"
#include "core/host_memory.h"

namespace slkv {

CpuBackend::CpuBackend(int n_threads) : n_threads_(n_threads) {
  SLKV_CHECK(n_threads >= 1, "CpuBackend needs at least one thread, got " << n_threads);
}

std::string CpuBackend::name() const { return "cpu"; }

int64_t CpuBackend::free_memory_bytes() const {
  const int64_t available = host_memory_available_bytes();
  if (available >= 0) return available;
  return static_cast<int64_t>(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
}

void* CpuBackend::allocate(int64_t bytes) {
  void* data = allocate_host_memory(bytes);
  if (!data) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
  return data;
}

void CpuBackend::release(void* data) { free_host_memory(data); }

void CpuBackend::copy_from_host(void* dst, const void* host_src, int64_t bytes) {
  if (bytes > 0) std::memcpy(dst, host_src, static_cast<size_t>(bytes));
}

void CpuBackend::copy_to_host(void* host_dst, const void* src, int64_t bytes) {
  if (bytes > 0) std::memcpy(host_dst, src, static_cast<size_t>(bytes));
}

void CpuBackend::copy(void* dst, const void* src, int64_t bytes) {
  if (bytes > 0) std::memmove(dst, src, static_cast<size_t>(bytes));
}

void CpuBackend::fill_zero(void* dst, int64_t bytes) {
  if (bytes > 0) std::memset(dst, 0, static_cast<size_t>(bytes));
}

void CpuBackend::copy_regions(std::span<const CopyRegion> regions) { cpu::copy_regions(regions); }

// Page-aligned, as pinned memory is under CUDA.
void* CpuBackend::allocate_host(int64_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = (static_cast<size_t>(std::max<int64_t>(bytes, 1)) + page - 1) / page * page;
  void* data = std::aligned_alloc(page, size);
  if (!data) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes of offload memory");
  return data;
}

void CpuBackend::release_host(void* data) { std::free(data); }

void CpuBackend::copy_host_regions(std::span<const CopyRegion> regions, bool /*to_host*/) {
  cpu::copy_regions(regions);  // both sides are host memory
}

void CpuBackend::matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) {
  cpu::matmul(x, n_tokens, w, y, n_threads_);
}

void CpuBackend::matmul_group(const float* x, int64_t n_tokens, std::span<const MatmulOutput> outputs) {
  cpu::matmul_group(x, n_tokens, outputs, n_threads_);
}

void CpuBackend::add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim) {
  cpu::add_bias(y, bias, n_tokens, dim);
}

void CpuBackend::rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y) {
  cpu::rmsnorm(x, weight, n_tokens, dim, eps, y, n_threads_);
}

void CpuBackend::rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                      const float* inv_freq) {
  cpu::rope(x, positions, n_tokens, n_heads, head_dim, inv_freq, n_threads_);
}

void CpuBackend::swiglu(const float* gate, const float* up, int64_t n, float* out) {
  cpu::swiglu(gate, up, n, out, n_threads_);
}

void CpuBackend::add(float* y, const float* x, int64_t n) { cpu::add(y, x, n); }

void CpuBackend::embedding(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* out) {
  cpu::embedding(table, ids, n_tokens, out);
}

void CpuBackend::attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape,
                           float* out, float* lse) {
  cpu::attention(q, n_queries, kv, shape, out, lse, n_threads_);
}

void CpuBackend::attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape) {
  cpu::attention_batch(jobs, shape, n_threads_);
}

double CpuBackend::window_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                                         std::span<const KvSpan> kv, const AttentionShape& shape, int64_t sink,
                                         int64_t recent) {
  return cpu::window_attention_mass(q, n_queries, first_query_key, lse, kv, shape, sink, recent, n_threads_);
}

void CpuBackend::key_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                                    std::span<const KvSpan> kv, const AttentionShape& shape, float* key_mass) {
  cpu::key_attention_mass(q, n_queries, first_query_key, lse, kv, shape, key_mass, n_threads_);
}

void CpuBackend::sample_tokens(const float* logits, int64_t n_rows, int64_t vocab, std::span<const TokenDraw> draws,
                               int32_t* tokens) {
  SLKV_CHECK(n_rows >= 0 && vocab > 0 && static_cast<int64_t>(draws.size()) == n_rows,
             "sampling " << n_rows << " rows of " << vocab << " logits with " << draws.size() << " draws");
  // Rows in parallel, from a batch of rows big enough to pay for the fork
  // (16 greedy rows of 32000: 387 us on one thread, a step's 3 %).
  constexpr int64_t kMinParallelLogits = 64 * 1024;
  const int threads = n_rows * vocab >= kMinParallelLogits ? n_threads_ : 1;
  cpu::parallel_for(n_rows, threads, [&](int64_t row) {
    thread_local std::vector<std::pair<float, int32_t>> candidates;  // reused across calls
    tokens[row] = cpu::draw_token(std::span<const float>(logits + row * vocab, static_cast<size_t>(vocab)), draws[row],
                                  candidates);
  });
}

std::unique_ptr<Backend> make_cpu_backend(int n_threads) { return std::make_unique<CpuBackend>(n_threads); }

}  // namespace slkv
