#pragma once
// Types shared by the kernel launchers (*_kernels.h) and CudaBackend. C++17
// and CUDA-header-free, since nvcc compiles the .cu side as C++17 and cannot
// include kernels/backend.h (C++20: std::span, std::bit_cast).
#include <cstdint>

namespace slkv::cuda {

// Storage type of a weight matrix or embedding table (slkv::DType mirrored).
enum class ElementType : int { F32, F16, BF16 };

// One KV span as the attention kernels read it: the span's keys and values
// ([n_tokens][n_kv_heads][head_dim], device memory) and the index of its
// first key in the concatenation of all spans. Tables hold no empty spans and
// are sorted by start, the first starting at 0.
struct DeviceKvSpan {
  const float* keys;
  const float* values;
  int64_t start;
};

// A span table in device memory plus what kernels need to walk it.
struct KvSpanTable {
  const DeviceKvSpan* spans = nullptr;
  int n_spans = 0;
  int64_t total = 0;  // keys in all spans
};

struct AttentionGeometry {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  float scale = 0.f;
};

// One copy of a batched copy (mirrors slkv::CopyRegion).
struct DeviceCopyRegion {
  void* dst;
  const void* src;
  int64_t bytes;
};

// One token draw (mirrors slkv::TokenDraw, kernels/token_draw.h).
struct DeviceTokenDraw {
  float temperature;
  int64_t top_k;
  float top_p;
  double uniform;
};

// The attention kernels keep a query row in registers spread over a warp, up
// to 4 values per lane.
constexpr int64_t kMaxAttentionHeadDim = 128;

}  // namespace slkv::cuda
