#include "kernels/cpu/elementwise.h"

#include <cmath>

#include "kernels/cpu/parallel_for.h"
#include "kernels/cpu/simd.h"
#include "core/error.h"

namespace slkv::cpu {
namespace {

using simd::kLanes;

// Below this many elements an op takes a few microseconds: one thread, since
// an OpenMP fork/join costs about as much.
constexpr int64_t kMinParallelElements = 16 * 1024;

int threads_for(int64_t elements, int n_threads) { return elements < kMinParallelElements ? 1 : n_threads; }

constexpr int64_t kMaxRopeHalf = 512;  // head_dim up to 1024

void rmsnorm_row(const float* x, const float* weight, int64_t dim, float eps, float* y) {
  __m512 sum = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= dim; i += kLanes) {
    __m512 v = _mm512_loadu_ps(x + i);
    sum = _mm512_fmadd_ps(v, v, sum);
  }
  float sum_squares = _mm512_reduce_add_ps(sum);
  for (; i < dim; ++i) sum_squares += x[i] * x[i];
  const float inv_rms = 1.f / std::sqrt(sum_squares / float(dim) + eps);

  const __m512 scale = _mm512_set1_ps(inv_rms);
  for (i = 0; i + kLanes <= dim; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), scale), _mm512_loadu_ps(weight + i)));
  for (; i < dim; ++i) y[i] = x[i] * inv_rms * weight[i];
}

// Rotates the heads of one token given the token's cos/sin per frequency.
void rope_token(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* first = x + h * head_dim;
    float* second = first + half;
    int64_t i = 0;
    for (; i < half; i += kLanes) {
      const __mmask16 mask = half - i >= kLanes ? __mmask16(0xffff) : simd::tail_mask(half - i);
      const __m512 a = _mm512_maskz_loadu_ps(mask, first + i);
      const __m512 b = _mm512_maskz_loadu_ps(mask, second + i);
      const __m512 c = _mm512_maskz_loadu_ps(mask, cos + i);
      const __m512 s = _mm512_maskz_loadu_ps(mask, sin + i);
      _mm512_mask_storeu_ps(first + i, mask, _mm512_fmsub_ps(a, c, _mm512_mul_ps(b, s)));
      _mm512_mask_storeu_ps(second + i, mask, _mm512_fmadd_ps(b, c, _mm512_mul_ps(a, s)));
    }
  }
}

}  // namespace

void rmsnorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, float* y, int n_threads) {
  SLKV_CHECK(dim > 0, "rmsnorm dim " << dim);
  parallel_for(n_tokens, threads_for(n_tokens * dim, n_threads),
               [&](int64_t t) { rmsnorm_row(x + t * dim, weight, dim, eps, y + t * dim); });
}

void rope(float* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
          const float* inv_freq, int n_threads) {
  SLKV_CHECK(head_dim % 2 == 0, "rope needs an even head_dim, got " << head_dim);
  SLKV_CHECK(head_dim <= 2 * kMaxRopeHalf, "rope head_dim " << head_dim << " too large");
  const int64_t half = head_dim / 2;
  // cos/sin depend on the token only: computed once per token (in float, as
  // HF does) and shared by all its heads. Each costs ~10 ns, hence the
  // generous weight in the threading decision.
  parallel_for(n_tokens, threads_for(n_tokens * half * 16, n_threads), [&](int64_t t) {
    float cos[kMaxRopeHalf], sin[kMaxRopeHalf];
    const float position = float(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = position * inv_freq[i];
      cos[i] = std::cos(angle);
      sin[i] = std::sin(angle);
    }
    rope_token(x + t * n_heads * head_dim, n_heads, head_dim, cos, sin);
  });
}

void swiglu(const float* gate, const float* up, int64_t n, float* out, int n_threads) {
  const __m512 one = _mm512_set1_ps(1.f);
  const int64_t n_vectors = (n + kLanes - 1) / kLanes;
  parallel_for(n_vectors, threads_for(n, n_threads), [&](int64_t v) {
    const int64_t i = v * kLanes;
    const __mmask16 mask = n - i >= kLanes ? __mmask16(0xffff) : simd::tail_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(mask, gate + i);
    const __m512 u = _mm512_maskz_loadu_ps(mask, up + i);
    // silu(g) = g / (1 + e^-g); for very negative g, e^-g = inf gives -0.
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, simd::exp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(out + i, mask, _mm512_mul_ps(silu, u));
  });
}

void add(float* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

void add_bias(float* y, const float* bias, int64_t n_tokens, int64_t dim) {
  for (int64_t t = 0; t < n_tokens; ++t) add(y + t * dim, bias, dim);
}

void embedding(const WeightMatrix& table, const int32_t* ids, int64_t n_tokens, float* out) {
  const int64_t dim = table.cols;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t id = ids[t];
    SLKV_CHECK(id >= 0 && id < table.rows, "token id " << id << " outside the vocabulary of " << table.rows);
    const size_t offset = size_t(id * dim);
    float* row_out = out + t * dim;
    switch (table.dtype) {
      case DType::F32:
        simd::widen<DType::F32>(static_cast<const float*>(table.data) + offset, dim, row_out);
        break;
      case DType::F16:
        simd::widen<DType::F16>(static_cast<const uint16_t*>(table.data) + offset, dim, row_out);
        break;
      case DType::BF16:
        simd::widen<DType::BF16>(static_cast<const uint16_t*>(table.data) + offset, dim, row_out);
        break;
    }
  }
}

}  // namespace slkv::cpu
