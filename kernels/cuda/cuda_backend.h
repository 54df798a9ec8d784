#pragma once
// CudaBackend: the Backend op set on one GPU. Every pointer an op takes is
// device memory (activations, weights' data, KV spans' keys and values,
// positions, ids, inv_freq, lse, key_mass), so a model whose buffers all live
// on the device runs without host round trips. Ops are enqueued on the
// backend's compute stream and return before the GPU is done, except
// window_attention_mass and sample_tokens, which return results to the host.
// Scratch memory comes from a caching pool owned by the backend. Plain C++
// header (no CUDA headers): g++-compiled code can create and use the backend.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/device_memory_pool.h"
#include "kernels/cuda/graph_recorder.h"
#include "kernels/cuda/kernel_types.h"
#include "kernels/cuda/upload_ring.h"

struct CUstream_st;
struct CUevent_st;
struct cublasContext;

namespace slkv {

class CudaBackend final : public Backend {
 public:
  // On the calling thread's current device (see select_cuda_device).
  CudaBackend();
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override;

  // Device memory: allocate() is a plain cudaMalloc (exact size, for weights
  // and long-lived buffers), release() waits for the compute stream first.
  // Transfers go through the copy stream, ordered after the ops enqueued so
  // far and before later ones; copy_from_host returns once `host_src` may be
  // reused, copy_to_host once the data is there. copy and fill_zero are
  // enqueued on the compute stream.
  bool uses_host_memory() const override { return false; }
  int64_t free_memory_bytes() const override;
  void* allocate(int64_t bytes) override;
  void release(void* data) override;
  void copy_from_host(void* dst, const void* host_src, int64_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, int64_t bytes) override;
  void copy(void* dst, const void* src, int64_t bytes) override;
  void fill_zero(void* dst, int64_t bytes) override;
  // One kernel for all regions; the region table goes up through the upload ring.
  void copy_regions(std::span<const CopyRegion> regions) override;
  // Offload memory is cudaHostAlloc'ed (pinned). copy_host_regions is one
  // cudaMemcpyBatchAsync on the copy stream after the compute stream's work
  // so far; fence_host_copies makes the compute stream wait for it,
  // wait_host_copies the host.
  void* allocate_host(int64_t bytes) override;
  void release_host(void* data) override;
  void copy_host_regions(std::span<const CopyRegion> regions, bool to_host) override;
  void fence_host_copies() override;
  void wait_host_copies() override;

  void matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) override;
  void add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim) override;
  void rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y) override;
  void rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
            const float* inv_freq) override;
  void swiglu(const float* gate, const float* up, int64_t n, float* out) override;
  void add(float* y, const float* x, int64_t n) override;
  // A token id outside the table gives a NaN row and is reported by the next
  // synchronize() or copy_to_host().
  void embedding(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* out) override;
  // head_dim up to 128 (cuda::kMaxAttentionHeadDim) for the three attention ops.
  void attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape, float* out,
                 float* lse) override;
  // A batch whose jobs all have the same query count (a decode batch) runs as
  // one launch over one uploaded span table; other batches job by job.
  void attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape) override;
  double window_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                               std::span<const KvSpan> kv, const AttentionShape& shape, int64_t sink,
                               int64_t recent) override;
  void key_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                          std::span<const KvSpan> kv, const AttentionShape& shape, float* key_mass) override;
  // One block per row on the device; waits for the ids (and reports a bad
  // embedding id as synchronize() does).
  void sample_tokens(const float* logits, int64_t n_rows, int64_t vocab, std::span<const TokenDraw> draws,
                     int32_t* tokens) override;

  // CUDA graphs (GraphRecorder), unless SLKV_CUDA_GRAPHS=0 in the
  // environment; dropped whenever the memory pool frees its cached blocks.
  void run_recorded(const void* owner, int64_t id, const std::function<void()>& ops) override;
  void forget_recordings(const void* owner) override;
  bool graphs_enabled() const { return graphs_enabled_; }
  size_t graphs_held() const { return graphs_ ? graphs_->graphs() : 0; }

  // Waits for every op enqueued so far; throws slkv::InternalError for a
  // failed kernel or an out-of-vocabulary token id seen by embedding()
  // (copy_to_host reports those too).
  void synchronize();

  CUstream_st* compute_stream() const { return compute_; }
  DeviceMemoryPool& memory_pool() { return pool_; }

 private:
  // Where stage_spans put one call's spans in span_staging_.
  struct StagedSpans {
    size_t first;   // index of its first span
    int count;      // its non-empty spans
    int64_t total;  // their keys
  };
  // Appends kv's non-empty spans to span_staging_ (starts counted from 0).
  StagedSpans stage_spans(std::span<const KvSpan> kv);
  // Uploads span_staging_ (null when empty).
  const cuda::DeviceKvSpan* upload_staged_spans();
  // Uploads the non-empty spans of kv; total = their key count.
  cuda::KvSpanTable upload_spans(std::span<const KvSpan> kv);
  void gemm(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y);
  void destroy();  // frees what the constructor created (also after a failed construction)

  int device_ = 0;
  int sm_count_ = 0;
  CUstream_st* compute_ = nullptr;
  CUstream_st* copy_ = nullptr;
  CUevent_st* compute_reached_ = nullptr;  // marks the compute stream for the copy stream to wait on
  CUevent_st* copy_reached_ = nullptr;     // and the other way round
  CUevent_st* host_copies_done_ = nullptr;  // the last copy_host_regions batch
  cublasContext* cublas_ = nullptr;
  DeviceMemoryPool pool_;
  std::unique_ptr<UploadRing> uploads_;
  bool graphs_enabled_ = true;
  std::unique_ptr<GraphRecorder> graphs_;
  size_t pool_trims_seen_ = 0;  // pool_.trims() when the graphs were last checked
  void* cublas_workspace_ = nullptr;  // fixed, so captured cuBLAS calls allocate nothing
  std::vector<cuda::DeviceKvSpan> span_staging_;  // the span table being uploaded
  // Results the host reads back, in pinned memory.
  struct HostResults {
    double window_mass = 0;
    int32_t embedding_error[2] = {0, 0};
  };
  // Throws when results_->embedding_error (copied back and synchronised by the caller) reports a bad id.
  void throw_embedding_error();

  int32_t* embedding_error_ = nullptr;  // device {flag, id}, see launch_embedding
  HostResults* results_ = nullptr;
};

// A CudaBackend on the current device; throws slkv::Error when no CUDA device
// is visible.
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace slkv
