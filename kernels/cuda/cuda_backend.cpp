// CudaBackend: argument checks on the host, then the kernels of
// *_kernels.cu (or cuBLAS) enqueued on the compute stream. Compiled by the
// C++20 host compiler; the .cu side sees only the C++17 launch headers.
#include "kernels/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_mass_kernels.h"
#include "kernels/cuda/copy_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/elementwise_kernels.h"
#include "kernels/cuda/gemv_kernels.h"
#include "kernels/cuda/sampling_kernels.h"
#include "core/error.h"

namespace slkv {
namespace {

// Span tables in flight at once before the host waits for an old upload.
constexpr int kUploadSlots = 16;
// cuBLAS's workspace (its default size on Hopper).
constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;
// Grid limits of the launches below (gridDim.x up to 2^31 - 1, y and z up to 65535).
constexpr int64_t kMaxGridX = INT_MAX;
constexpr int64_t kMaxGridY = 65535;

cuda::ElementType element_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return cuda::ElementType::F32;
    case DType::F16: return cuda::ElementType::F16;
    case DType::BF16: return cuda::ElementType::BF16;
  }
  throw InternalError("unknown dtype " + std::to_string(int(dtype)));
}

// The host structs go up as they are: the kernels' mirrors must match them.
static_assert(sizeof(CopyRegion) == sizeof(cuda::DeviceCopyRegion) &&
              offsetof(CopyRegion, bytes) == offsetof(cuda::DeviceCopyRegion, bytes));
static_assert(sizeof(TokenDraw) == sizeof(cuda::DeviceTokenDraw) &&
              offsetof(TokenDraw, top_k) == offsetof(cuda::DeviceTokenDraw, top_k) &&
              offsetof(TokenDraw, top_p) == offsetof(cuda::DeviceTokenDraw, top_p) &&
              offsetof(TokenDraw, uniform) == offsetof(cuda::DeviceTokenDraw, uniform));

bool fits_int(int64_t value) { return value >= 0 && value <= INT_MAX; }

cuda::AttentionGeometry checked_geometry(const AttentionShape& shape) {
  SLKV_CHECK(shape.n_heads > 0 && shape.n_kv_heads > 0 && shape.n_heads % shape.n_kv_heads == 0,
             "attention heads " << shape.n_heads << " / kv heads " << shape.n_kv_heads);
  SLKV_CHECK(shape.n_kv_heads <= kMaxGridY, "attention kv heads " << shape.n_kv_heads);
  SLKV_CHECK(shape.head_dim > 0 && shape.head_dim <= cuda::kMaxAttentionHeadDim,
             "attention head_dim " << shape.head_dim << " (the CUDA backend supports 1.."
                                   << cuda::kMaxAttentionHeadDim << ")");
  return {shape.n_heads, shape.n_kv_heads, shape.head_dim, shape.scale};
}

}  // namespace

CudaBackend::CudaBackend() {
  try {
    CUDA_CHECK(cudaGetDevice(&device_));
    CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
    // Blocking streams (not cudaStreamNonBlocking): they stay ordered with the
    // legacy default stream, so a plain cudaMemcpy elsewhere sees finished ops.
    CUDA_CHECK(cudaStreamCreate(&compute_));
    CUDA_CHECK(cudaStreamCreate(&copy_));
    CUDA_CHECK(cudaEventCreateWithFlags(&compute_reached_, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&copy_reached_, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&host_copies_done_, cudaEventDisableTiming));
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetStream(cublas_, compute_));
    // Set after the stream (setting a stream resets the workspace).
    CUDA_CHECK(cudaMalloc(&cublas_workspace_, kCublasWorkspaceBytes));
    CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspaceBytes));
    // Default math: fp32 SGEMM stays fp32 (no TF32) unless NVIDIA_TF32_OVERRIDE says otherwise.
    CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    uploads_ = std::make_unique<UploadRing>(compute_, kUploadSlots);
    graphs_ = std::make_unique<GraphRecorder>(compute_);
    const char* graphs_setting = std::getenv("SLKV_CUDA_GRAPHS");
    graphs_enabled_ = !(graphs_setting && std::string(graphs_setting) == "0");
    CUDA_CHECK(cudaMalloc(&embedding_error_, 2 * sizeof(int32_t)));
    CUDA_CHECK(cudaMemsetAsync(embedding_error_, 0, 2 * sizeof(int32_t), compute_));
    void* pinned = nullptr;
    CUDA_CHECK(cudaMallocHost(&pinned, sizeof(HostResults)));
    results_ = new (pinned) HostResults{};
  } catch (...) {
    destroy();
    throw;
  }
}

CudaBackend::~CudaBackend() { destroy(); }

void CudaBackend::destroy() {
  // No throwing here: errors of a dying context are ignored.
  if (compute_) cudaStreamSynchronize(compute_);
  if (copy_) cudaStreamSynchronize(copy_);
  graphs_.reset();
  uploads_.reset();
  if (cublas_) cublasDestroy(cublas_);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  cublas_workspace_ = nullptr;
  if (embedding_error_) cudaFree(embedding_error_);
  if (results_) cudaFreeHost(results_);
  if (compute_reached_) cudaEventDestroy(compute_reached_);
  if (copy_reached_) cudaEventDestroy(copy_reached_);
  if (host_copies_done_) cudaEventDestroy(host_copies_done_);
  if (copy_) cudaStreamDestroy(copy_);
  if (compute_) cudaStreamDestroy(compute_);
  cublas_ = nullptr;
  embedding_error_ = nullptr;
  results_ = nullptr;
  compute_reached_ = copy_reached_ = host_copies_done_ = nullptr;
  compute_ = copy_ = nullptr;
}

std::string CudaBackend::name() const { return "cuda"; }

int64_t CudaBackend::free_memory_bytes() const {
  size_t free = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return static_cast<int64_t>(free);
}

void* CudaBackend::allocate(int64_t bytes) {
  SLKV_CHECK(bytes >= 0, "allocating " << bytes << " bytes");
  void* data = nullptr;
  const cudaError_t status = cudaMalloc(&data, size_t(std::max<int64_t>(bytes, 1)));
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it
    throw Error("out of GPU memory allocating " + std::to_string(bytes) + " bytes on device " +
                std::to_string(device_));
  }
  CUDA_CHECK(status);
  return data;
}

void CudaBackend::release(void* data) {
  if (!data) return;
  // Called from destructors (BackendBuffer), so it never throws: a failure
  // here is a sticky context error that the next checked call reports.
  cudaStreamSynchronize(compute_);  // enqueued ops may still use the memory
  cudaFree(data);
}

void CudaBackend::copy_from_host(void* dst, const void* host_src, int64_t bytes) {
  SLKV_CHECK(bytes >= 0, "copying " << bytes << " bytes");
  if (bytes == 0) return;
  // After the ops so far (they may still read the old contents), before later ones.
  CUDA_CHECK(cudaEventRecord(compute_reached_, compute_));
  CUDA_CHECK(cudaStreamWaitEvent(copy_, compute_reached_, 0));
  CUDA_CHECK(cudaMemcpyAsync(dst, host_src, size_t(bytes), cudaMemcpyHostToDevice, copy_));
  CUDA_CHECK(cudaEventRecord(copy_reached_, copy_));
  CUDA_CHECK(cudaStreamWaitEvent(compute_, copy_reached_, 0));
  // From pinned memory the copy is asynchronous: wait until host_src is read.
  CUDA_CHECK(cudaStreamSynchronize(copy_));
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, int64_t bytes) {
  SLKV_CHECK(bytes >= 0, "copying " << bytes << " bytes");
  if (bytes == 0) return;
  CUDA_CHECK(cudaEventRecord(compute_reached_, compute_));
  CUDA_CHECK(cudaStreamWaitEvent(copy_, compute_reached_, 0));
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src, size_t(bytes), cudaMemcpyDeviceToHost, copy_));
  CUDA_CHECK(cudaMemcpyAsync(results_->embedding_error, embedding_error_, sizeof results_->embedding_error,
                             cudaMemcpyDeviceToHost, copy_));
  CUDA_CHECK(cudaStreamSynchronize(copy_));
  throw_embedding_error();
}

void CudaBackend::copy(void* dst, const void* src, int64_t bytes) {
  SLKV_CHECK(bytes >= 0, "copying " << bytes << " bytes");
  if (bytes == 0) return;
  const auto* from = static_cast<const char*>(src);
  auto* to = static_cast<char*>(dst);
  if (to != from && to < from + bytes && from < to + bytes) {
    // Overlapping ranges (memmove semantics): cudaMemcpy leaves them undefined, so go through scratch.
    PoolBlock staging(pool_, size_t(bytes));
    CUDA_CHECK(cudaMemcpyAsync(staging.get(), src, size_t(bytes), cudaMemcpyDeviceToDevice, compute_));
    CUDA_CHECK(cudaMemcpyAsync(dst, staging.get(), size_t(bytes), cudaMemcpyDeviceToDevice, compute_));
  } else if (to != from) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(bytes), cudaMemcpyDeviceToDevice, compute_));
  }
}

void CudaBackend::fill_zero(void* dst, int64_t bytes) {
  SLKV_CHECK(bytes >= 0, "zeroing " << bytes << " bytes");
  if (bytes > 0) CUDA_CHECK(cudaMemsetAsync(dst, 0, size_t(bytes), compute_));
}

void CudaBackend::copy_regions(std::span<const CopyRegion> regions) {
  for (const CopyRegion& region : regions) SLKV_CHECK(region.bytes >= 0, "copying " << region.bytes << " bytes");
  if (regions.empty()) return;
  const void* table = uploads_->upload(regions.data(), regions.size_bytes());
  cuda::launch_copy_regions(static_cast<const cuda::DeviceCopyRegion*>(table), int64_t(regions.size()), compute_);
}

void* CudaBackend::allocate_host(int64_t bytes) {
  SLKV_CHECK(bytes >= 0, "allocating " << bytes << " bytes");
  void* data = nullptr;
  const cudaError_t status = cudaHostAlloc(&data, size_t(std::max<int64_t>(bytes, 1)), cudaHostAllocPortable);
  if (status != cudaSuccess)
    throw Error("cudaHostAlloc of " + std::to_string(bytes) + " bytes of pinned offload memory failed: " +
                cudaGetErrorString(status));
  return data;
}

void CudaBackend::release_host(void* data) {
  if (!data) return;
  cudaStreamSynchronize(copy_);  // a copy may still read or write it
  cudaFreeHost(data);
}

void CudaBackend::copy_host_regions(std::span<const CopyRegion> regions, bool to_host) {
  std::vector<void*> dsts;
  std::vector<const void*> srcs;
  std::vector<size_t> sizes;
  for (const CopyRegion& region : regions) {
    SLKV_CHECK(region.bytes >= 0, "copying " << region.bytes << " bytes");
    if (region.bytes == 0) continue;
    dsts.push_back(region.dst);
    srcs.push_back(region.src);
    sizes.push_back(size_t(region.bytes));
  }
  if (dsts.empty()) return;
  // After the compute stream's work so far (it wrote what goes to the host,
  // or still reads what a restore overwrites).
  CUDA_CHECK(cudaEventRecord(compute_reached_, compute_));
  CUDA_CHECK(cudaStreamWaitEvent(copy_, compute_reached_, 0));
  cudaMemcpyAttributes attributes{};
  attributes.srcAccessOrder = cudaMemcpySrcAccessOrderStream;
  attributes.flags = cudaMemcpyFlagPreferOverlapWithCompute;
  size_t first = 0;
  CUDA_CHECK(cudaMemcpyBatchAsync(dsts.data(), srcs.data(), sizes.data(), dsts.size(), &attributes, &first, 1, copy_));
  CUDA_CHECK(cudaEventRecord(host_copies_done_, copy_));
  (void)to_host;  // the driver tells the direction from the pointers (unified addressing)
}

void CudaBackend::fence_host_copies() { CUDA_CHECK(cudaStreamWaitEvent(compute_, host_copies_done_, 0)); }

void CudaBackend::wait_host_copies() { CUDA_CHECK(cudaEventSynchronize(host_copies_done_)); }

void CudaBackend::matmul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) {
  SLKV_CHECK(n_tokens >= 0 && w.rows >= 0 && w.cols >= 0,
             "matmul of " << n_tokens << " tokens by " << w.rows << "x" << w.cols);
  if (n_tokens == 0 || w.rows == 0) return;
  if (n_tokens <= cuda::kGemvMaxTokens) {
    SLKV_CHECK(w.rows <= kMaxGridX, "matmul rows " << w.rows);  // a block per row at most
    cuda::launch_gemv(x, n_tokens, w.data, element_type(w.dtype), w.rows, w.cols, y, sm_count_, compute_);
  } else {
    gemm(x, n_tokens, w, y);
  }
}

// Row-major y [n_tokens][rows] = x [n_tokens][cols] . W^T is, in cuBLAS's
// column-major terms, y^T (rows x n_tokens) = W^T (rows x cols, W stored as
// its cols x rows transpose) . x^T (cols x n_tokens).
void CudaBackend::gemm(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) {
  SLKV_CHECK(fits_int(n_tokens) && fits_int(w.rows) && fits_int(w.cols),
             "matmul of " << n_tokens << " tokens by " << w.rows << "x" << w.cols << " exceeds cuBLAS's int sizes");
  if (w.cols == 0) {  // empty sums; cuBLAS would refuse the leading dimension 0
    CUDA_CHECK(cudaMemsetAsync(y, 0, size_t(n_tokens * w.rows) * sizeof(float), compute_));
    return;
  }
  const int m = int(w.rows), n = int(n_tokens), k = int(w.cols);
  const float one = 1.f, zero = 0.f;
  if (w.dtype == DType::F32) {
    CUBLAS_CHECK(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, static_cast<const float*>(w.data), k,
                             x, k, &zero, y, m));
    return;
  }
  // 16-bit weights: the activations are rounded to the weights' type so that
  // cuBLAS runs a tensor-core GEMM, accumulating and writing fp32.
  PoolBlock narrowed(pool_, size_t(n_tokens * w.cols) * 2);
  cuda::launch_narrow(x, n_tokens * w.cols, element_type(w.dtype), narrowed.get(), compute_);
  const cudaDataType_t type = w.dtype == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F;
  CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, w.data, type, k, narrowed.get(), type,
                            k, &zero, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim) {
  SLKV_CHECK(n_tokens >= 0 && dim > 0, "add_bias of " << n_tokens << " x " << dim);
  cuda::launch_add_bias(y, bias, n_tokens, dim, compute_);
}

void CudaBackend::rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y) {
  SLKV_CHECK(dim > 0, "rmsnorm dim " << dim);
  SLKV_CHECK(n_tokens >= 0 && n_tokens <= kMaxGridX, "rmsnorm of " << n_tokens << " tokens");
  cuda::launch_rmsnorm(x, weight, n_tokens, dim, eps, y, compute_);
}

void CudaBackend::rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                       const float* inv_freq) {
  SLKV_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope needs an even head_dim, got " << head_dim);
  SLKV_CHECK(n_tokens >= 0 && n_heads >= 0, "rope of " << n_tokens << " tokens x " << n_heads << " heads");
  cuda::launch_rope(x, positions, n_tokens, n_heads, head_dim, inv_freq, compute_);
}

void CudaBackend::swiglu(const float* gate, const float* up, int64_t n, float* out) {
  SLKV_CHECK(n >= 0, "swiglu of " << n);
  cuda::launch_swiglu(gate, up, n, out, compute_);
}

void CudaBackend::add(float* y, const float* x, int64_t n) {
  SLKV_CHECK(n >= 0, "add of " << n);
  cuda::launch_add(y, x, n, compute_);
}

void CudaBackend::embedding(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* out) {
  SLKV_CHECK(n_tokens >= 0 && table.rows >= 0 && table.cols >= 0,
             "embedding of " << n_tokens << " tokens from " << table.rows << "x" << table.cols);
  cuda::launch_embedding(table.data, element_type(table.dtype), table.rows, table.cols, ids, n_tokens, out,
                         embedding_error_, compute_);
}

CudaBackend::StagedSpans CudaBackend::stage_spans(std::span<const KvSpan> kv) {
  StagedSpans staged{span_staging_.size(), 0, 0};
  for (const KvSpan& span : kv) {
    SLKV_CHECK(span.n_tokens >= 0, "KV span of " << span.n_tokens << " tokens");
    if (span.n_tokens == 0) continue;  // the kernels' span search assumes no empty spans
    SLKV_CHECK(span.keys && span.values, "KV span of " << span.n_tokens << " tokens without keys or values");
    span_staging_.push_back({span.keys, span.values, staged.total});
    staged.total += span.n_tokens;
    ++staged.count;
  }
  SLKV_CHECK(span_staging_.size() <= size_t(INT_MAX), span_staging_.size() << " KV spans");
  return staged;
}

const cuda::DeviceKvSpan* CudaBackend::upload_staged_spans() {
  if (span_staging_.empty()) return nullptr;
  return static_cast<const cuda::DeviceKvSpan*>(
      uploads_->upload(span_staging_.data(), span_staging_.size() * sizeof(cuda::DeviceKvSpan)));
}

cuda::KvSpanTable CudaBackend::upload_spans(std::span<const KvSpan> kv) {
  span_staging_.clear();
  const StagedSpans staged = stage_spans(kv);
  return {upload_staged_spans(), staged.count, staged.total};
}

void CudaBackend::attention(const float* q, int64_t n_queries, std::span<const KvSpan> kv, const AttentionShape& shape,
                            float* out, float* lse) {
  const cuda::AttentionGeometry geometry = checked_geometry(shape);
  SLKV_CHECK(n_queries >= 0, "attention of " << n_queries << " queries");
  if (n_queries == 0) return;
  const cuda::KvSpanTable table = upload_spans(kv);
  SLKV_CHECK(n_queries <= table.total, "attention: " << n_queries << " queries but only " << table.total << " keys");
  const int64_t group = shape.n_heads / shape.n_kv_heads;
  SLKV_CHECK((n_queries * group + 15) / 16 <= kMaxGridX, "attention of " << n_queries << " queries");
  const cuda::AttentionPlan plan = cuda::plan_attention(n_queries, table, geometry, sm_count_);
  PoolBlock scratch(pool_, plan.scratch_bytes);
  cuda::launch_attention(q, n_queries, table, geometry, plan, scratch.get(), out, lse, compute_);
}

void CudaBackend::attention_batch(std::span<const AttentionJob> jobs, const AttentionShape& shape) {
  const int64_t n_queries = jobs.empty() ? 0 : jobs[0].n_queries;
  bool one_launch = jobs.size() > 1 && n_queries > 0;
  for (const AttentionJob& job : jobs) one_launch = one_launch && job.n_queries == n_queries;
  if (!one_launch) {
    Backend::attention_batch(jobs, shape);
    return;
  }
  const cuda::AttentionGeometry geometry = checked_geometry(shape);
  const int64_t n_jobs = int64_t(jobs.size());
  SLKV_CHECK(n_jobs * ((n_queries * (shape.n_heads / shape.n_kv_heads) + 15) / 16) <= kMaxGridX,
             "attention of " << n_jobs << " sequences");

  // Every job's spans in one table, one upload.
  std::vector<StagedSpans> job_spans;
  span_staging_.clear();
  for (const AttentionJob& job : jobs) {
    job_spans.push_back(stage_spans(job.kv));
    SLKV_CHECK(n_queries <= job_spans.back().total,
               "attention: " << n_queries << " queries but only " << job_spans.back().total << " keys");
  }
  const cuda::DeviceKvSpan* device_spans = upload_staged_spans();

  // Each job's split plan (sized for the whole batch filling the GPU) and its part of one scratch block.
  std::vector<cuda::KvSpanTable> tables;
  std::vector<cuda::AttentionPlan> plans;
  std::vector<size_t> scratch_offsets;
  size_t scratch_bytes = 0;
  int max_splits = 1;
  for (const StagedSpans& spans : job_spans) {
    tables.push_back({device_spans + spans.first, spans.count, spans.total});
    plans.push_back(cuda::plan_attention(n_queries, tables.back(), geometry, sm_count_, n_jobs));
    scratch_offsets.push_back(scratch_bytes);
    scratch_bytes += (plans.back().scratch_bytes + 255) / 256 * 256;
    max_splits = std::max(max_splits, plans.back().n_splits);
  }
  PoolBlock scratch(pool_, std::max<size_t>(scratch_bytes, 1));
  std::vector<cuda::AttentionParams> params;
  for (size_t i = 0; i < jobs.size(); ++i)
    params.push_back(cuda::make_attention_params(jobs[i].q, n_queries, tables[i], geometry, plans[i],
                                                 scratch.as<char>() + scratch_offsets[i], jobs[i].out, jobs[i].lse));
  const auto* device_params = static_cast<const cuda::AttentionParams*>(
      uploads_->upload(params.data(), params.size() * sizeof(cuda::AttentionParams)));
  cuda::launch_attention_jobs(device_params, n_jobs, n_queries, geometry, max_splits, compute_);
}

double CudaBackend::window_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                                          std::span<const KvSpan> kv, const AttentionShape& shape, int64_t sink,
                                          int64_t recent) {
  const cuda::AttentionGeometry geometry = checked_geometry(shape);
  SLKV_CHECK(sink >= 0 && recent >= 0, "windows sink " << sink << " recent " << recent);
  const cuda::KvSpanTable table = upload_spans(kv);
  SLKV_CHECK(n_queries >= 0 && first_query_key >= 0 && first_query_key + n_queries <= table.total,
             "queries at keys " << first_query_key << ".." << first_query_key + n_queries << " but " << table.total
                                << " keys");
  const int64_t n_items = n_queries * shape.n_heads;
  SLKV_CHECK(n_items <= kMaxGridX, "window_attention_mass of " << n_items << " (query, head) pairs");
  PoolBlock item_mass(pool_, size_t(std::max<int64_t>(n_items, 1)) * sizeof(double));
  PoolBlock total(pool_, sizeof(double));
  cuda::launch_window_attention_mass({q, lse, n_queries, first_query_key}, table, geometry, sink, recent,
                                     item_mass.as<double>(), total.as<double>(), compute_);
  CUDA_CHECK(cudaMemcpyAsync(&results_->window_mass, total.get(), sizeof(double), cudaMemcpyDeviceToHost, compute_));
  CUDA_CHECK(cudaStreamSynchronize(compute_));
  return results_->window_mass;
}

void CudaBackend::key_attention_mass(const float* q, int64_t n_queries, int64_t first_query_key, const float* lse,
                                     std::span<const KvSpan> kv, const AttentionShape& shape, float* key_mass) {
  const cuda::AttentionGeometry geometry = checked_geometry(shape);
  const cuda::KvSpanTable table = upload_spans(kv);
  SLKV_CHECK(n_queries >= 0 && first_query_key >= 0 && first_query_key + n_queries <= table.total,
             "queries at keys " << first_query_key << ".." << first_query_key + n_queries << " but " << table.total
                                << " keys");
  cuda::launch_key_attention_mass({q, lse, n_queries, first_query_key}, table, geometry, key_mass, compute_);
}

void CudaBackend::sample_tokens(const float* logits, int64_t n_rows, int64_t vocab, std::span<const TokenDraw> draws,
                                int32_t* tokens) {
  SLKV_CHECK(n_rows >= 0 && n_rows <= kMaxGridX && int64_t(draws.size()) == n_rows,
             "sampling " << n_rows << " rows with " << draws.size() << " draws");
  SLKV_CHECK(vocab > 0 && vocab <= INT32_MAX, "sampling from a vocabulary of " << vocab);
  if (n_rows == 0) return;
  const void* device_draws = uploads_->upload(draws.data(), draws.size_bytes());
  PoolBlock device_tokens(pool_, size_t(n_rows) * sizeof(int32_t));
  cuda::launch_sample_tokens(logits, n_rows, vocab, static_cast<const cuda::DeviceTokenDraw*>(device_draws),
                             device_tokens.as<int32_t>(), compute_);
  CUDA_CHECK(cudaMemcpyAsync(tokens, device_tokens.get(), size_t(n_rows) * sizeof(int32_t), cudaMemcpyDeviceToHost,
                             compute_));
  synchronize();
}

void CudaBackend::run_recorded(const void* owner, int64_t id, const std::function<void()>& ops) {
  if (!graphs_enabled_) {
    ops();
    return;
  }
  if (pool_.trims() != pool_trims_seen_) {  // graphs may hold freed scratch blocks
    graphs_->clear();
    pool_trims_seen_ = pool_.trims();
  }
  graphs_->run(owner, id, ops);
}

void CudaBackend::forget_recordings(const void* owner) {
  if (graphs_) graphs_->forget(owner);
}

void CudaBackend::synchronize() {
  CUDA_CHECK(cudaMemcpyAsync(results_->embedding_error, embedding_error_, sizeof results_->embedding_error,
                             cudaMemcpyDeviceToHost, compute_));
  CUDA_CHECK(cudaStreamSynchronize(compute_));
  throw_embedding_error();
}

void CudaBackend::throw_embedding_error() {
  if (results_->embedding_error[0] == 0) return;
  const int32_t id = results_->embedding_error[1];
  results_->embedding_error[0] = 0;
  // Report each bad batch once: clear the device flag for the ops that follow.
  CUDA_CHECK(cudaMemsetAsync(embedding_error_, 0, 2 * sizeof(int32_t), compute_));
  throw InternalError("embedding: token id " + std::to_string(id) + " outside the embedding table");
}

std::unique_ptr<Backend> make_cuda_backend() {
  if (cuda_device_count() == 0)
    throw Error("the CUDA backend needs a CUDA device, and none is visible to this process");
  return std::make_unique<CudaBackend>();
}

}  // namespace slkv
