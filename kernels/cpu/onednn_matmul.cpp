#include "kernels/cpu/onednn_matmul.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/error.h"
#include "kernels/cpu/simd.h"

namespace slkv::cpu {
namespace {

using dnnl::memory;

memory::data_type onednn_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return memory::data_type::f32;
    case DType::F16: return memory::data_type::f16;
    case DType::BF16: return memory::data_type::bf16;
  }
  return memory::data_type::undef;
}

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The three operands of y = x · W^T as oneDNN sees them: x [tokens, cols]
// row-major, W^T [cols, rows] read straight from W's row-major storage
// (strides 1, cols), y [tokens, rows] dense (brgemm kernels want a dense
// destination; a strided one falls back to a GEMM ~2.5x slower).
struct Operands {
  memory::desc x, w, y;
};

Operands describe(int64_t n_tokens, int64_t n_rows, int64_t cols, DType dtype) {
  const memory::data_type type = onednn_type(dtype);
  return {memory::desc({n_tokens, cols}, type, {cols, 1}), memory::desc({cols, n_rows}, type, {1, cols}),
          memory::desc({n_tokens, n_rows}, memory::data_type::f32, {n_rows, 1})};
}

// One shape's primitive and the scratch space it asked for. The scratchpad
// is ours (user mode) so that threads never share oneDNN's.
struct CachedMatmul {
  Operands operands;
  dnnl::matmul primitive;
  size_t scratchpad_bytes = 0;
};

CachedMatmul create_matmul(int64_t n_tokens, int64_t n_rows, int64_t cols, DType dtype) {
  const Operands ops = describe(n_tokens, n_rows, cols, dtype);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ops.x, ops.w, ops.y), attr, cpu_engine());
  return {ops, dnnl::matmul(pd), pd.scratchpad_desc().get_size()};
}

// A primitive is JIT-compiled for its exact shape (~0.1-1 ms), so each
// thread keeps the ones it has made. The key is the whole shape; the map is
// emptied past kMaxCachedShapes (prompts of many different lengths).
using ShapeKey = std::tuple<int64_t, int64_t, int64_t, DType>;
constexpr size_t kMaxCachedShapes = 256;

const CachedMatmul& cached_matmul(int64_t n_tokens, int64_t n_rows, int64_t cols, DType dtype) {
  thread_local std::map<ShapeKey, CachedMatmul> cache;
  const ShapeKey key{n_tokens, n_rows, cols, dtype};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxCachedShapes) cache.clear();
  return cache.emplace(key, create_matmul(n_tokens, n_rows, cols, dtype)).first->second;
}

bool probe_native(DType dtype) {
  if (dtype == DType::BF16) {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
    return (isa & bf16) == bf16;  // AVX512-BF16, or AMX which includes it
  }
  if (dtype == DType::F16) {
    // No ISA flag for it in oneDNN 2.x: native when a non-reference
    // implementation of a small F16 product exists.
    try {
      const Operands ops = describe(32, 32, 32, dtype);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ops.x, ops.w, ops.y), cpu_engine());
      return std::string(pd.impl_info_str()).find("ref") == std::string::npos;
    } catch (const dnnl::error&) {
      return false;
    }
  }
  return false;
}

}  // namespace

bool onednn_native_16bit(DType dtype) {
  static const bool bf16 = probe_native(DType::BF16);
  static const bool f16 = probe_native(DType::F16);
  return dtype == DType::BF16 ? bf16 : dtype == DType::F16 ? f16 : false;
}

void round_to_16bit(DType dtype, const float* in, int64_t n, uint16_t* out) {
  SLKV_CHECK(dtype != DType::F32, "round_to_16bit needs a 16-bit dtype");
  if (dtype == DType::BF16)
    simd::narrow<DType::BF16>(in, n, out);
  else
    simd::narrow<DType::F16>(in, n, out);
}

void onednn_matmul(const void* x, int64_t n_tokens, const WeightMatrix& w, float* y, int64_t y_stride) {
  if (n_tokens == 0 || w.rows == 0) return;
  try {
    const CachedMatmul& matmul = cached_matmul(n_tokens, w.rows, w.cols, w.dtype);
    const Operands& ops = matmul.operands;
    // A slice of W's rows writes a slice of y's columns, which is strided:
    // the product goes to a dense per-thread buffer first (one copy of
    // n_tokens x rows floats, cols times less work than the product).
    const bool dense = y_stride == w.rows;
    thread_local std::vector<float> dense_out;
    thread_local std::vector<uint8_t> scratchpad;
    if (!dense) dense_out.resize(size_t(n_tokens * w.rows));
    scratchpad.resize(std::max(scratchpad.size(), matmul.scratchpad_bytes));
    float* out = dense ? y : dense_out.data();

    const dnnl::engine& engine = cpu_engine();
    thread_local dnnl::stream stream(cpu_engine());
    memory x_mem(ops.x, engine, const_cast<void*>(x));
    memory w_mem(ops.w, engine, const_cast<void*>(w.data));
    memory y_mem(ops.y, engine, out);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, y_mem}};
    if (matmul.scratchpad_bytes > 0)
      args.emplace(DNNL_ARG_SCRATCHPAD, memory(memory::desc({int64_t(matmul.scratchpad_bytes)}, memory::data_type::u8,
                                                            {1}),
                                               engine, scratchpad.data()));
    matmul.primitive.execute(stream, args);
    stream.wait();
    if (!dense)
      for (int64_t t = 0; t < n_tokens; ++t) std::copy_n(out + t * w.rows, w.rows, y + t * y_stride);
  } catch (const dnnl::error& e) {
    std::ostringstream message;
    message << "oneDNN " << dtype_name(w.dtype) << " matmul of " << n_tokens << " x [" << w.rows << ", " << w.cols
            << "] failed: " << e.what() << " (status " << int(e.status) << ")";
    throw Error(message.str());
  }
}

}  // namespace slkv::cpu
