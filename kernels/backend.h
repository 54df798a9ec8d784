#pragma once
// Backend: the compute primitives the model forward is written against.
// kernels/cpu implements it (always built); kernels/cuda follows the same
// contract. All activations are fp32; weights may be F32, F16 or BF16.
// Pointers are in the backend's memory (host memory for the CPU backend).
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "kernels/token_draw.h"
#include "core/dtype.h"

namespace slkv {

// A row-major weight matrix as Hugging Face stores a Linear: [out, in].
struct WeightMatrix {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features
};

// One product of Backend::matmul_group: y [n_tokens, weights.rows] = x W^T.
struct MatmulOutput {
  WeightMatrix weights;
  float* y = nullptr;
};

// A run of consecutive cached tokens of one layer: keys and values laid out
// [n_tokens][n_kv_heads][head_dim], already rotated by RoPE.
struct KvSpan {
  const float* keys = nullptr;
  const float* values = nullptr;
  int64_t n_tokens = 0;
};

// One copy of Backend::copy_regions: `bytes` from src to dst, both in the
// backend's memory.
struct CopyRegion {
  void* dst = nullptr;
  const void* src = nullptr;
  int64_t bytes = 0;
};

struct AttentionShape {
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // key/value heads (GQA: n_heads % n_kv_heads == 0)
  int64_t head_dim = 0;
  float scale = 0.f;       // usually 1/sqrt(head_dim)
};

// One sequence's part of Backend::attention_batch: attention()'s arguments.
struct AttentionJob {
  const float* q = nullptr;
  int64_t n_queries = 0;
  std::span<const KvSpan> kv;
  float* out = nullptr;
  float* lse = nullptr;  // optional
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- the memory its kernels address (host memory for the CPU backend) ----
  // True when kernels read host memory directly: weights then stay in the
  // mmap'ed files and host buffers are passed as they are.
  virtual bool uses_host_memory() const = 0;
  // Bytes of its memory still free (host: MemAvailable; GPU: free device memory).
  virtual int64_t free_memory_bytes() const = 0;
  // Throws slkv::Error when `bytes` cannot be allocated; release(nullptr) is a no-op.
  virtual void* allocate(int64_t bytes) = 0;
  virtual void release(void* data) = 0;
  virtual void copy_from_host(void* dst, const void* host_src, int64_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, int64_t bytes) = 0;
  virtual void copy(void* dst, const void* src, int64_t bytes) = 0;  // both in backend memory
  virtual void fill_zero(void* dst, int64_t bytes) = 0;
  // Every region's copy as one operation (one kernel on a GPU rather than a
  // copy call each): gathering KV slots, appending KV, reordering rows. No
  // region's destination may overlap its own or another region's source, or
  // another region's destination.
  virtual void copy_regions(std::span<const CopyRegion> regions) = 0;

  // ---- host memory for offloaded KV (offload/) ----
  // Host memory that copy_host_regions moves data to and from: page-locked
  // (pinned) under CUDA, so copies run asynchronously at the link's speed;
  // page-aligned under the CPU backend. Throws slkv::Error when it cannot.
  virtual void* allocate_host(int64_t bytes) = 0;
  virtual void release_host(void* data) = 0;
  // Every region's copy between this backend's memory and allocate_host()
  // memory as one operation: device -> host when to_host, else host ->
  // device. It runs after the work issued so far (so it reads what that
  // work wrote); under CUDA on the copy stream, overlapping later compute.
  // Regions may not overlap each other.
  virtual void copy_host_regions(std::span<const CopyRegion> regions, bool to_host) = 0;
  // The fence: work issued after it waits for the host copies issued before
  // it (a restored layer is read only once it is there; a freed block is
  // rewritten only once it is parked). The host itself does not block.
  virtual void fence_host_copies() = 0;
  // Blocks the host until the host copies issued so far are done (before
  // host memory they wrote is read or they read is reused).
  virtual void wait_host_copies() = 0;

  // y[t][r] = sum_c x[t][c] * W[r][c] for t < n_tokens (x: n_tokens x cols,
  // y: n_tokens x rows). n_tokens == 1 is the bandwidth-bound decode case.
  virtual void matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) = 0;
  // matmul() of one x by several matrices (q/k/v, gate/up), so that a
  // backend that converts x (to BF16 for a 16-bit GEMM) does it once.
  virtual void matmul_group(const float* x, int64_t n_tokens, std::span<const MatmulOutput> outputs) {
    for (const MatmulOutput& output : outputs) matmul(x, n_tokens, output.weights, output.y);
  }
  // y[t] += bias for every row t (Qwen2 q/k/v biases).
  virtual void add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim) = 0;
  // y[t] = x[t] / rms(x[t]) * weight, per row of length dim.
  virtual void rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
                       float* y) = 0;
  // Rotates x [n_tokens][n_heads][head_dim] in place, Hugging Face
  // rotate-half layout: pairs (i, i + head_dim/2) use angle
  // positions[t] * inv_freq[i], inv_freq has head_dim/2 entries.
  virtual void rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
                    int64_t head_dim, const float* inv_freq) = 0;
  // out[i] = silu(gate[i]) * up[i].
  virtual void swiglu(const float* gate, const float* up, int64_t n, float* out) = 0;
  // y[i] += x[i].
  virtual void add(float* y, const float* x, int64_t n) = 0;
  // out[t] = table row ids[t], widened to fp32.
  virtual void embedding(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* out) = 0;

  // Causal attention of n_queries new queries q [n_queries][n_heads][head_dim]
  // over the keys of `kv` taken in order (their concatenation). The new
  // tokens' own keys are the last n_queries keys, so query i sees the first
  // total - n_queries + i + 1 keys. out: [n_queries][n_heads][head_dim].
  // lse (optional, [n_queries][n_heads]): natural-log sum over visible keys
  // of exp(scale * q.k), i.e. the softmax normaliser, for lazy-layer scores.
  virtual void attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv,
                         const AttentionShape& shape, float* out, float* lse) = 0;
  // attention() of every job (the sequences of one batched pass, each over
  // its own KV), as one op: a GPU backend runs a decode batch in one launch
  // instead of one per sequence. The default runs the jobs one by one.
  virtual void attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape) {
    for (const AttentionJob& job : jobs) attention(job.q, job.n_queries, job.kv, shape, job.out, job.lse);
  }

  // Lazy-layer score (SimLayerKV). Query i of q [n_queries][n_heads][head_dim]
  // is the one at key index first_query_key + i and sees keys 0..that index;
  // lse [n_queries][n_heads] is its softmax normaliser from attention().
  // Returns, summed over queries and query heads, the softmax probability the
  // query puts on the union of the sink window (keys 0..sink-1) and its recent
  // window (its last `recent` visible keys, itself included); a key in both
  // windows counts once. No attention matrix is formed.
  virtual double window_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                                       std::span<const KvSpan> kv, const AttentionShape& shape, int64_t sink,
                                       int64_t recent) = 0;
  // SnapKV's observation: key_mass [n_kv_heads][n_keys] (n_keys = total keys
  // of kv) += the softmax probability each query puts on each visible key,
  // summed over queries and over the query heads that share the KV head.
  virtual void key_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                                  std::span<const KvSpan> kv, const AttentionShape& shape, float* key_mass) = 0;

  // Draws one token per row of logits [n_rows][vocab] (backend memory) as
  // draws[row] says (kernels/token_draw.h) and writes the ids to the host
  // array tokens[n_rows]; returns when they are there. Only token ids leave
  // the device.
  virtual void sample_tokens(const float* logits, int64_t n_rows, int64_t vocab, std::span<const TokenDraw> draws,
                             int32_t* tokens) = 0;

  // ---- recorded op sequences (CUDA graphs) ----
  // Runs `ops`, a fixed sequence of calls of this backend's ops. A backend
  // may record the sequence it sees for (owner, id) and replay the recording
  // for the same pair later instead of issuing each op again (the CUDA
  // backend does: one graph launch instead of a launch per op). So the caller
  // promises that the same pair always means the same ops on the same
  // pointers and sizes, and that the ops move no data to or from the host and
  // return nothing: the dense ops (matmul, add_bias, rmsnorm, rope, swiglu,
  // add, embedding, copy, fill_zero) and device collectives, not the ops
  // that take per-call tables from the host (copy_regions, attention, the
  // mass ops, sample_tokens). The default runs `ops` every time.
  virtual void run_recorded(const void* /*owner*/, int64_t /*id*/, const std::function<void()>& ops) { ops(); }
  // Drops the owner's recordings (their pointers are about to change or die).
  virtual void forget_recordings(const void* /*owner*/) {}
};

// The CPU backend: SIMD kernels, OpenMP over n_threads, oneDNN sgemm for GEMM.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

}  // namespace slkv
