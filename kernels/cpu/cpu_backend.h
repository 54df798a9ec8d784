#pragma once
// CpuBackend: the Backend implemented with the AVX-512 kernels of
// kernels/cpu, OpenMP over a fixed number of threads, oneDNN for GEMM (sgemm for
// F32, its 16-bit matmul primitive for BF16 where the CPU multiplies BF16).
#include <cstdint>
#include <span>
#include <string>

#include "kernels/backend.h"

namespace slkv {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads);

  std::string name() const override;
  bool uses_host_memory() const override { return true; }
  int64_t free_memory_bytes() const override;
  void* allocate(int64_t bytes) override;
  void release(void* data) override;
  void copy_from_host(void* dst, const void* host_src, int64_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, int64_t bytes) override;
  void copy(void* dst, const void* src, int64_t bytes) override;
  void fill_zero(void* dst, int64_t bytes) override;
  void copy_regions(std::span<const CopyRegion> regions) override;
  // Host copies are plain (threaded) memcpys, done when the call returns.
  void* allocate_host(int64_t bytes) override;
  void release_host(void* data) override;
  void copy_host_regions(std::span<const CopyRegion> regions, bool to_host) override;
  void fence_host_copies() override {}
  void wait_host_copies() override {}
  int n_threads() const { return n_threads_; }

  void matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) override;
  void matmul_group(const float* x, int64_t n_tokens, std::span<const MatmulOutput> outputs) override;
  void add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim) override;
  void rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y) override;
  void rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
            const float* inv_freq) override;
  void swiglu(const float* gate, const float* up, int64_t n, float* out) override;
  void add(float* y, const float* x, int64_t n) override;
  void embedding(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* out) override;
  void attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape, float* out,
                 float* lse) override;
  void attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape) override;
  double window_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                               std::span<const KvSpan> kv, const AttentionShape& shape, int64_t sink,
                               int64_t recent) override;
  void key_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                          std::span<const KvSpan> kv, const AttentionShape& shape, float* key_mass) override;
  void sample_tokens(const float* logits, int64_t n_rows, int64_t vocab, std::span<const TokenDraw> draws,
                     int32_t* tokens) override;

 private:
  int n_threads_;
};

}  // namespace slkv
