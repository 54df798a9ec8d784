// CudaBackend against the CPU backend, op by op, in the spirit of llama.cpp's
// test-backend-ops: the same random inputs go through both backends (each in
// its own memory) and the outputs are compared by normalised mean squared
// error, NMSE = sum((cuda - cpu)^2) / sum(cpu^2). Shapes cover odd sizes, the
// decode (GEMV, split-K attention) and prefill (cuBLAS, tiled attention)
// paths, GQA ratios 1 and 4, head_dim 8/64/96/128 and KV split into spans of
// different lengths (an empty one included).
//
// Tolerances, and why:
//  * kNmseF32 = 1e-9: fp32 on both sides; only summation order, FMA
//    contraction and exp/sin rounding (a few ulp, ~1e-7 relative) differ,
//    which gives NMSE around 1e-13. Any indexing error gives NMSE ~ 1.
//  * matmul above 8 tokens with F16 / BF16 weights: cuBLAS multiplies the
//    activations rounded to the weights' type (relative rounding error up to
//    2^-11 / 2^-8), so NMSE ~ 1e-7 / 1e-6 is expected; the bounds are
//    kNmseGemmF16 = 1e-5 and kNmseGemmBF16 = 1e-4. The GEMV path (<= 8 tokens)
//    widens the stored weights exactly, like the CPU: kNmseF32.
//  * lse: absolute kLseTolerance = 1e-4 (values are log-sums of order 1..10).
//  * window_attention_mass: relative kMassTolerance = 1e-5 (a sum of
//    probabilities accumulated in double on both sides from fp32 terms).
// Every test skips when no CUDA device is visible (this build machine).
#include <gtest/gtest.h>

#ifdef SLKV_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#include "runtime/dtype.h"
#include "runtime/error.h"

namespace slkv {
namespace {

constexpr double kNmseF32 = 1e-9;
constexpr double kNmseGemmF16 = 1e-5;
constexpr double kNmseGemmBF16 = 1e-4;
constexpr double kLseTolerance = 1e-4;
constexpr double kMassTolerance = 1e-5;

double nmse(const std::vector<float>& expected, const std::vector<float>& actual) {
  EXPECT_EQ(expected.size(), actual.size());
  double error = 0, reference = 0;
  for (size_t i = 0; i < expected.size() && i < actual.size(); ++i) {
    const double d = double(actual[i]) - double(expected[i]);
    error += d * d;
    reference += double(expected[i]) * expected[i];
  }
  return error / std::max(reference, 1e-30);  // NaN in actual stays NaN and fails every bound
}

double max_abs_diff(const std::vector<float>& expected, const std::vector<float>& actual) {
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double d = std::fabs(double(actual[i]) - double(expected[i]));
    if (!(d <= worst)) worst = d;  // NaN wins
  }
  return worst;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, float stddev = 1.f) {
  std::normal_distribution<float> dist(0.f, stddev);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// Buffers in one backend's memory, released with the arena.
class Arena {
 public:
  explicit Arena(Backend& backend) : backend_(backend) {}
  ~Arena() {
    for (void* data : owned_) backend_.release(data);
  }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  template <typename T>
  T* put(const std::vector<T>& host) {
    const int64_t bytes = int64_t(host.size() * sizeof(T));
    void* data = backend_.allocate(bytes);
    owned_.push_back(data);
    backend_.copy_from_host(data, host.data(), bytes);
    return static_cast<T*>(data);
  }
  template <typename T>
  std::vector<T> get(const T* data, size_t count) {
    std::vector<T> host(count);
    backend_.copy_to_host(host.data(), data, int64_t(count * sizeof(T)));
    return host;
  }
  Backend& backend() { return backend_; }

 private:
  Backend& backend_;
  std::vector<void*> owned_;
};

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the CUDA backend is compiled here but can only run on a GPU";
    cpu_ = make_cpu_backend(2);
    cuda_ = make_cuda_backend();
  }

  // Runs `op(arena)` on each backend (inputs put into that backend's arena)
  // and returns {cpu output, cuda output}.
  template <typename Op>
  std::pair<std::vector<float>, std::vector<float>> run_both(Op op) {
    Arena cpu_arena(*cpu_), cuda_arena(*cuda_);
    std::vector<float> expected = op(cpu_arena);
    std::vector<float> actual = op(cuda_arena);
    return {std::move(expected), std::move(actual)};
  }

  std::unique_ptr<Backend> cpu_, cuda_;
};

TEST_F(CudaBackendTest, Rmsnorm) {
  std::mt19937 rng(1);
  for (int64_t n_tokens : {1, 3, 64, 200}) {
    for (int64_t dim : {64, 127, 4096}) {
      const auto x = random_floats(size_t(n_tokens * dim), rng, 2.f);
      const auto weight = random_floats(size_t(dim), rng);
      for (bool in_place : {false, true}) {
        auto [expected, actual] = run_both([&](Arena& arena) {
          float* in = arena.put(x);
          float* out = in_place ? in : arena.put(std::vector<float>(x.size()));
          arena.backend().rmsnorm(in, arena.put(weight), n_tokens, dim, 1e-5f, out);
          return arena.get(out, x.size());
        });
        EXPECT_LT(nmse(expected, actual), kNmseF32) << n_tokens << " x " << dim << " in place " << in_place;
      }
    }
  }
}

TEST_F(CudaBackendTest, Rope) {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> position(0, 32767);
  for (int64_t n_tokens : {1, 3, 64, 200}) {
    for (int64_t n_heads : {1, 8}) {
      for (int64_t head_dim : {8, 64, 128}) {
        const auto x = random_floats(size_t(n_tokens * n_heads * head_dim), rng);
        std::vector<int32_t> positions(static_cast<size_t>(n_tokens));
        for (int32_t& p : positions) p = position(rng);
        std::vector<float> inv_freq(size_t(head_dim / 2));
        for (size_t i = 0; i < inv_freq.size(); ++i)
          inv_freq[i] = float(1.0 / std::pow(500000.0, 2.0 * double(i) / double(head_dim)));
        auto [expected, actual] = run_both([&](Arena& arena) {
          float* data = arena.put(x);
          arena.backend().rope(data, arena.put(positions), n_tokens, n_heads, head_dim, arena.put(inv_freq));
          return arena.get(data, x.size());
        });
        EXPECT_LT(nmse(expected, actual), kNmseF32) << n_tokens << " tokens " << n_heads << " heads " << head_dim;
      }
    }
  }
}

TEST_F(CudaBackendTest, SwigluAddAddBias) {
  std::mt19937 rng(3);
  for (int64_t n_tokens : {1, 3, 64, 200}) {
    for (int64_t dim : {1, 127, 1024}) {
      const size_t n = size_t(n_tokens * dim);
      auto gate = random_floats(n, rng, 4.f);
      gate[0] = -200.f;  // e^-g overflows: silu gives -0
      const auto up = random_floats(n, rng);
      const auto bias = random_floats(size_t(dim), rng);
      auto [expected, actual] = run_both([&](Arena& arena) {
        Backend& b = arena.backend();
        float* g = arena.put(gate);
        float* u = arena.put(up);
        float* out = arena.put(std::vector<float>(n));
        b.swiglu(g, u, int64_t(n), out);
        b.add(out, u, int64_t(n));
        b.add_bias(out, arena.put(bias), n_tokens, dim);
        b.swiglu(out, u, int64_t(n), out);  // output aliasing an input
        return arena.get(out, n);
      });
      EXPECT_LT(nmse(expected, actual), kNmseF32) << n_tokens << " x " << dim;
    }
  }
}

// Random weights stored as `dtype` (the same bits for both backends).
struct StoredMatrix {
  std::vector<float> f32;
  std::vector<uint16_t> bits;  // F16 / BF16
  DType dtype;
  int64_t rows, cols;

  StoredMatrix(DType type, int64_t r, int64_t c, std::mt19937& rng, float stddev)
      : dtype(type), rows(r), cols(c) {
    f32 = random_floats(size_t(r * c), rng, stddev);
    if (type == DType::F32) return;
    bits.resize(f32.size());
    for (size_t i = 0; i < f32.size(); ++i) bits[i] = type == DType::BF16 ? float_to_bf16(f32[i]) : float_to_f16(f32[i]);
  }
  WeightMatrix put(Arena& arena) const {
    const void* data = dtype == DType::F32 ? static_cast<const void*>(arena.put(f32)) : arena.put(bits);
    return {data, dtype, rows, cols};
  }
};

TEST_F(CudaBackendTest, Embedding) {
  std::mt19937 rng(4);
  for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t cols : {127, 256}) {
      const StoredMatrix table(dtype, 1000, cols, rng, 1.f);
      for (int64_t n_tokens : {1, 3, 64, 200}) {
        std::vector<int32_t> ids(static_cast<size_t>(n_tokens));
        std::uniform_int_distribution<int32_t> id(0, 999);
        for (int32_t& i : ids) i = id(rng);
        auto [expected, actual] = run_both([&](Arena& arena) {
          float* out = arena.put(std::vector<float>(size_t(n_tokens * cols)));
          arena.backend().embedding(table.put(arena), arena.put(ids), n_tokens, out);
          return arena.get(out, size_t(n_tokens * cols));
        });
        // Widening is exact: the rows must match bit for bit.
        EXPECT_EQ(expected, actual) << dtype_name(dtype) << " cols " << cols << " tokens " << n_tokens;
      }
    }
  }
}

TEST_F(CudaBackendTest, EmbeddingReportsAnIdOutsideTheTable) {
  std::mt19937 rng(5);
  const StoredMatrix table(DType::BF16, 10, 16, rng, 1.f);
  Arena arena(*cuda_);
  float* out = arena.put(std::vector<float>(2 * 16));
  cuda_->embedding(table.put(arena), arena.put(std::vector<int32_t>{3, 10}), 2, out);
  EXPECT_THROW(static_cast<CudaBackend&>(*cuda_).synchronize(), InternalError);
  // Reported once; a valid batch afterwards is fine.
  cuda_->embedding(table.put(arena), arena.put(std::vector<int32_t>{3, 9}), 2, out);
  EXPECT_NO_THROW(static_cast<CudaBackend&>(*cuda_).synchronize());
}

TEST_F(CudaBackendTest, Matmul) {
  std::mt19937 rng(6);
  struct Shape {
    int64_t rows, cols;
  };
  // (97, 131): odd, so the GEMV takes element loads; the others 16-byte vectors.
  for (const Shape shape : {Shape{256, 512}, Shape{97, 131}, Shape{1000, 4096}}) {
    for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
      const StoredMatrix w(dtype, shape.rows, shape.cols, rng, 1.f / std::sqrt(float(shape.cols)));
      for (int64_t n_tokens : {1, 3, 8, 9, 64, 200}) {
        const auto x = random_floats(size_t(n_tokens * shape.cols), rng);
        auto [expected, actual] = run_both([&](Arena& arena) {
          float* y = arena.put(std::vector<float>(size_t(n_tokens * shape.rows)));
          arena.backend().matmul(arena.put(x), n_tokens, w.put(arena), y);
          return arena.get(y, size_t(n_tokens * shape.rows));
        });
        const bool gemm = n_tokens > 8;
        const double bound = !gemm || dtype == DType::F32 ? kNmseF32
                             : dtype == DType::F16        ? kNmseGemmF16
                                                          : kNmseGemmBF16;
        EXPECT_LT(nmse(expected, actual), bound)
            << dtype_name(dtype) << " " << shape.rows << "x" << shape.cols << " tokens " << n_tokens;
      }
    }
  }
}

TEST_F(CudaBackendTest, MatmulWithMisalignedActivations) {
  // x one float past an aligned start: the GEMV must fall back to element loads.
  std::mt19937 rng(7);
  const int64_t rows = 64, cols = 256, n_tokens = 3;
  for (DType dtype : {DType::F32, DType::BF16}) {
    const StoredMatrix w(dtype, rows, cols, rng, 0.1f);
    const auto x = random_floats(size_t(n_tokens * cols + 1), rng);
    auto [expected, actual] = run_both([&](Arena& arena) {
      float* y = arena.put(std::vector<float>(size_t(n_tokens * rows)));
      arena.backend().matmul(arena.put(x) + 1, n_tokens, w.put(arena), y);
      return arena.get(y, size_t(n_tokens * rows));
    });
    EXPECT_LT(nmse(expected, actual), kNmseF32) << dtype_name(dtype);
  }
}

// Keys and values in spans, queries and the shape of one attention call.
struct AttentionCase {
  int64_t n_queries;
  std::vector<int64_t> span_tokens;
  int64_t n_heads, n_kv_heads, head_dim;
};

std::string describe(const AttentionCase& c) {
  std::ostringstream os;
  os << c.n_queries << " queries, spans {";
  for (int64_t n : c.span_tokens) os << n << " ";
  os << "}, heads " << c.n_heads << "/" << c.n_kv_heads << ", head_dim " << c.head_dim;
  return os.str();
}

struct AttentionInputs {
  std::vector<std::vector<float>> keys, values;
  std::vector<float> q;
  int64_t total = 0;
  AttentionShape shape;

  AttentionInputs(const AttentionCase& c, std::mt19937& rng) {
    for (int64_t n : c.span_tokens) {
      keys.push_back(random_floats(size_t(n * c.n_kv_heads * c.head_dim), rng));
      values.push_back(random_floats(size_t(n * c.n_kv_heads * c.head_dim), rng));
      total += n;
    }
    q = random_floats(size_t(c.n_queries * c.n_heads * c.head_dim), rng);
    shape = {c.n_heads, c.n_kv_heads, c.head_dim, float(1.0 / std::sqrt(double(c.head_dim)))};
  }

  // The spans in `arena`'s memory (an empty span has null pointers).
  std::vector<KvSpan> spans(Arena& arena) const {
    std::vector<KvSpan> result;
    for (size_t s = 0; s < keys.size(); ++s) {
      if (keys[s].empty())
        result.push_back({nullptr, nullptr, 0});
      else
        result.push_back({arena.put(keys[s]), arena.put(values[s]), int64_t(keys[s].size()) / (shape.n_kv_heads *
                                                                                               shape.head_dim)});
    }
    return result;
  }
};

const std::vector<AttentionCase>& attention_cases() {
  static const std::vector<AttentionCase> cases = {
      {1, {16, 16, 16, 5}, 8, 8, 64},           // decode over a short cache, no split
      {1, {1000, 37, 600, 1}, 32, 8, 128},      // decode, GQA 4, split over keys
      {1, std::vector<int64_t>(256, 16), 32, 8, 128},  // decode over 256 blocks of 16 tokens
      {3, {500, 3}, 8, 2, 64},                  // a few queries after a cached prefix
      {16, {1984, 16}, 8, 8, 64},               // causal rows with key splits
      {64, {64}, 4, 1, 128},                    // prefill, GQA 4
      {200, {100, 0, 150}, 8, 2, 64},           // prefill across spans, one empty
      {200, {200}, 4, 4, 128},                  // prefill, the whole cache is the prompt
      {7, {30, 9}, 8, 8, 8},                    // tiny head_dim (stories260K)
      {5, {77}, 6, 3, 96},                      // head_dim that is not a power of two
  };
  return cases;
}

TEST_F(CudaBackendTest, Attention) {
  std::mt19937 rng(8);
  for (const AttentionCase& c : attention_cases()) {
    const AttentionInputs in(c, rng);
    const size_t out_size = in.q.size(), lse_size = size_t(c.n_queries * c.n_heads);
    std::vector<float> lse[2];
    int which = 0;
    auto [expected, actual] = run_both([&](Arena& arena) {
      const std::vector<KvSpan> spans = in.spans(arena);
      float* out = arena.put(std::vector<float>(out_size));
      float* lse_out = arena.put(std::vector<float>(lse_size));
      arena.backend().attention(arena.put(in.q), c.n_queries, spans, in.shape, out, lse_out);
      lse[which++] = arena.get(lse_out, lse_size);
      return arena.get(out, out_size);
    });
    EXPECT_LT(nmse(expected, actual), kNmseF32) << describe(c);
    EXPECT_LT(max_abs_diff(lse[0], lse[1]), kLseTolerance) << describe(c);

    // Without lse the outputs are the same.
    Arena arena(*cuda_);
    const std::vector<KvSpan> spans = in.spans(arena);
    float* out = arena.put(std::vector<float>(out_size));
    cuda_->attention(arena.put(in.q), c.n_queries, spans, in.shape, out, nullptr);
    EXPECT_EQ(arena.get(out, out_size), actual) << describe(c) << " without lse";
  }
}

struct MassCase {
  AttentionCase attention;  // the observed queries are the last n_queries keys
  int64_t sink, recent;
};

const std::vector<MassCase>& mass_cases() {
  static const std::vector<MassCase> cases = {
      {{1, {40, 30}, 8, 8, 64}, 4, 16},
      {{8, {300, 200, 16}, 32, 8, 128}, 4, 64},
      {{5, {10}, 4, 1, 128}, 4, 8},       // windows overlap: every visible key counts once
      {{3, {20, 0, 7}, 8, 8, 8}, 2, 4},
      {{32, {1000, 24}, 8, 2, 64}, 4, 1024},  // recent window beyond the start
  };
  return cases;
}

// The lse of the CPU attention for a case, so both backends score the same probabilities.
std::vector<float> cpu_lse(Backend& cpu, const AttentionCase& c, const AttentionInputs& in) {
  Arena arena(cpu);
  const std::vector<KvSpan> spans = in.spans(arena);
  std::vector<float> out(in.q.size()), lse(size_t(c.n_queries * c.n_heads));
  cpu.attention(in.q.data(), c.n_queries, spans, in.shape, out.data(), lse.data());
  return lse;
}

TEST_F(CudaBackendTest, WindowAttentionMass) {
  std::mt19937 rng(9);
  for (const MassCase& m : mass_cases()) {
    const AttentionCase& c = m.attention;
    const AttentionInputs in(c, rng);
    const std::vector<float> lse = cpu_lse(*cpu_, c, in);
    double mass[2];
    int which = 0;
    run_both([&](Arena& arena) {
      const std::vector<KvSpan> spans = in.spans(arena);
      mass[which++] = arena.backend().window_attention_mass(arena.put(in.q), c.n_queries, in.total - c.n_queries,
                                                            arena.put(lse), spans, in.shape, m.sink, m.recent);
      return std::vector<float>();
    });
    EXPECT_GT(mass[0], 0.0) << describe(c);
    EXPECT_NEAR(mass[1], mass[0], kMassTolerance * mass[0]) << describe(c) << " sink " << m.sink << " recent "
                                                             << m.recent;
  }
}

TEST_F(CudaBackendTest, KeyAttentionMass) {
  std::mt19937 rng(10);
  for (const MassCase& m : mass_cases()) {
    const AttentionCase& c = m.attention;
    const AttentionInputs in(c, rng);
    const std::vector<float> lse = cpu_lse(*cpu_, c, in);
    // Starts from earlier votes: the op adds to key_mass.
    std::vector<float> initial(size_t(c.n_kv_heads * in.total));
    std::uniform_real_distribution<float> vote(0.f, 2.f);
    for (float& v : initial) v = vote(rng);
    auto [expected, actual] = run_both([&](Arena& arena) {
      const std::vector<KvSpan> spans = in.spans(arena);
      float* key_mass = arena.put(initial);
      arena.backend().key_attention_mass(arena.put(in.q), c.n_queries, in.total - c.n_queries, arena.put(lse), spans,
                                         in.shape, key_mass);
      return arena.get(key_mass, initial.size());
    });
    EXPECT_LT(nmse(expected, actual), kNmseF32) << describe(c);
  }
}

TEST_F(CudaBackendTest, MemoryOps) {
  std::vector<float> host(1000);
  for (size_t i = 0; i < host.size(); ++i) host[i] = float(i);
  Arena arena(*cuda_);
  float* a = arena.put(host);
  float* b = arena.put(std::vector<float>(host.size(), -1.f));
  cuda_->copy(b, a, 500 * sizeof(float));
  cuda_->fill_zero(b + 500, 100 * sizeof(float));
  cuda_->copy(a + 1, a, 999 * sizeof(float));  // overlapping, memmove semantics
  const std::vector<float> got_b = arena.get(b, host.size());
  const std::vector<float> got_a = arena.get(a, host.size());
  for (size_t i = 0; i < host.size(); ++i) {
    EXPECT_EQ(got_b[i], i < 500 ? float(i) : i < 600 ? 0.f : -1.f) << i;
    EXPECT_EQ(got_a[i], i == 0 ? 0.f : float(i - 1)) << i;
  }
  EXPECT_FALSE(cuda_->uses_host_memory());
  EXPECT_EQ(cuda_->name(), "cuda");
}

TEST(CudaDevice, SelectsLocalRankModuloDeviceCount) {
  const int count = cuda_device_count();
  if (count == 0) GTEST_SKIP() << "no CUDA device: nothing to select";
  EXPECT_EQ(select_cuda_device(0), 0);
  EXPECT_EQ(select_cuda_device(count), 0);
  EXPECT_EQ(select_cuda_device(2 * count - 1), count - 1);
  select_cuda_device(0);
}

TEST(CudaDevice, FactoryRefusesWithoutDevice) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is visible: the refusal cannot be observed";
  EXPECT_THROW(make_cuda_backend(), Error);
}

}  // namespace
}  // namespace slkv

#endif  // SLKV_HAVE_CUDA
