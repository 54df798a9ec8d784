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
//    widens the stored weights exactly: kNmseF32, unless the CPU reference
//    itself rounds x (its native 16-bit GEMM, cpu::matmul_rounds_input).
//  * lse: absolute kLseTolerance = 1e-4 (values are log-sums of order 1..10).
//  * window_attention_mass: relative kMassTolerance = 1e-5 (a sum of
//    probabilities accumulated in double on both sides from fp32 terms).
//  * sample_tokens: exact token equality with cpu::draw_token, whose
//    definition (kernels/token_draw.h) both implement. Only a uniform (or a
//    top-p target) within ~1e-7 of an interval boundary could tell the GPU's
//    expf from the CPU's; a failure message says whether it was one.
//  * copy_regions: byte for byte.
//  * run_recorded: kNmseF32 after every run, recorded or replayed.
// Every test skips when no CUDA device is visible (this build machine).
#include <gtest/gtest.h>

#ifdef SLKV_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/sampling.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#include "core/dtype.h"
#include "kernels/token_draw.h"
#include "core/error.h"

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
  // (97, 131): odd, so the GEMV takes element loads; the others 16-byte
  // vectors. Few rows (a tensor-parallel shard's k_proj: 128 x 8192; 3 rows)
  // make the GEMV split each row over 2 to 8 warps.
  for (const Shape shape : {Shape{256, 512}, Shape{97, 131}, Shape{1000, 4096}, Shape{128, 8192}, Shape{3, 1000}}) {
    for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
      const StoredMatrix w(dtype, shape.rows, shape.cols, rng, 1.f / std::sqrt(float(shape.cols)));
      for (int64_t n_tokens : {1, 3, 8, 9, 64, 200}) {
        const auto x = random_floats(size_t(n_tokens * shape.cols), rng);
        auto [expected, actual] = run_both([&](Arena& arena) {
          float* y = arena.put(std::vector<float>(size_t(n_tokens * shape.rows)));
          arena.backend().matmul(arena.put(x), n_tokens, w.put(arena), y);
          return arena.get(y, size_t(n_tokens * shape.rows));
        });
        // Either side may round x: cuBLAS above 8 tokens, the CPU's native
        // 16-bit GEMM from cpu::kGemmMinTokens on (where the CPU has one).
        const bool rounded = (n_tokens > 8 && dtype != DType::F32) ||
                             cpu::matmul_rounds_input(n_tokens, {nullptr, dtype, shape.rows, shape.cols});
        const double bound = !rounded ? kNmseF32 : dtype == DType::F16 ? kNmseGemmF16 : kNmseGemmBF16;
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

// A batch of sequences, each with its own KV (and query count), through
// attention_batch: on CUDA a decode batch (one query each) is one launch over
// one span table with a split plan per sequence; other batches go job by job.
TEST_F(CudaBackendTest, AttentionBatch) {
  std::mt19937 rng(21);
  struct BatchCase {
    std::vector<AttentionCase> jobs;  // same heads in every job
  };
  auto decode = [](std::vector<std::vector<int64_t>> kv, int64_t heads, int64_t kv_heads) {
    BatchCase batch;
    for (auto& spans : kv) batch.jobs.push_back({1, spans, heads, kv_heads, 128});
    return batch;
  };
  const std::vector<BatchCase> batches = {
      decode({{1}, {17}, {300}, {4000}, {4, 1020}, {16, 16, 16, 3}}, 32, 8),  // lengths 1..4000, windowed
      decode({{4096}, {64}, {2048, 2048}}, 8, 1),                              // GQA 8, one KV head
      decode({{700}, {5}}, 64, 1),                                             // GQA 64: 4 row blocks each
      decode(std::vector<std::vector<int64_t>>(32, {1024}), 8, 1),             // a batch of 32, no split left
      {{{1, {40}, 8, 2, 64}, {3, {40, 3}, 8, 2, 64}}},                         // mixed query counts: job by job
  };
  for (const BatchCase& batch : batches) {
    std::vector<AttentionInputs> inputs;
    for (const AttentionCase& c : batch.jobs) inputs.emplace_back(c, rng);
    std::vector<float> lse[2];
    int which = 0;
    auto [expected, actual] = run_both([&](Arena& arena) {
      std::vector<std::vector<KvSpan>> spans;
      std::vector<AttentionJob> jobs;
      std::vector<std::pair<float*, size_t>> outs, lses;
      for (size_t j = 0; j < inputs.size(); ++j) {
        const AttentionCase& c = batch.jobs[j];
        spans.push_back(inputs[j].spans(arena));
        const size_t lse_size = size_t(c.n_queries * c.n_heads);
        outs.push_back({arena.put(std::vector<float>(inputs[j].q.size(), NAN)), inputs[j].q.size()});
        lses.push_back({arena.put(std::vector<float>(lse_size, NAN)), lse_size});
      }
      for (size_t j = 0; j < inputs.size(); ++j)
        jobs.push_back({arena.put(inputs[j].q), batch.jobs[j].n_queries, spans[j], outs[j].first, lses[j].first});
      arena.backend().attention_batch(jobs, inputs[0].shape);
      std::vector<float> all_out, all_lse;
      for (size_t j = 0; j < inputs.size(); ++j) {
        const std::vector<float> out = arena.get(outs[j].first, outs[j].second);
        const std::vector<float> job_lse = arena.get(lses[j].first, lses[j].second);
        all_out.insert(all_out.end(), out.begin(), out.end());
        all_lse.insert(all_lse.end(), job_lse.begin(), job_lse.end());
      }
      lse[which++] = all_lse;
      return all_out;
    });
    EXPECT_LT(nmse(expected, actual), kNmseF32) << describe(batch.jobs[0]) << " and " << batch.jobs.size() - 1
                                                << " more";
    EXPECT_LT(max_abs_diff(lse[0], lse[1]), kLseTolerance) << describe(batch.jobs[0]);
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

// ---- sample_tokens: the GPU's radix-select draw against cpu::draw_token ----

// One row of logits for the token draw tests.
struct LogitRow {
  std::string kind;
  std::vector<float> logits;
};

// Rows of `vocab` logits, each kind stressing a part of the definition.
std::vector<LogitRow> logit_rows(int64_t vocab, std::mt19937& rng) {
  const size_t n = size_t(vocab);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  std::uniform_int_distribution<size_t> position(0, n - 1);
  std::vector<LogitRow> rows;

  std::vector<float> v(n);
  for (float& x : v) x = 3.f * normal(rng);
  rows.push_back({"random", v});

  // Quarter steps: exact ties everywhere, at every top-k and top-p boundary;
  // the largest value at several ids.
  for (float& x : v) x = std::round(8.f * normal(rng)) / 4.f;
  const float top = *std::max_element(v.begin(), v.end());
  for (int i = 0; i < 4; ++i) v[position(rng)] = top;
  rows.push_back({"ties", v});

  rows.push_back({"constant", std::vector<float>(n, 2.5f)});

  // 70% of the row at its maximum, the rest below.
  for (float& x : v) x = unit(rng) < 0.7f ? 4.f : std::min(3.9f, 4.f + 2.f * normal(rng));
  rows.push_back({"mostly equal", v});

  // -0 and +0 are one value: ties broken by id, not by sign.
  const float values[] = {-0.f, 0.f, -0.5f, -1.5f};
  std::uniform_int_distribution<int> pick(0, 3);
  for (float& x : v) x = values[pick(rng)];
  rows.push_back({"signed zeros", v});

  // -inf entries weigh nothing (one finite entry at least).
  for (size_t i = 0; i < n; ++i)
    v[i] = unit(rng) < 0.3f && i != n / 2 ? -std::numeric_limits<float>::infinity() : 2.f * normal(rng);
  rows.push_back({"-inf", v});
  return rows;
}

// The draws of the test, for one vocabulary size (uniform filled in later).
std::vector<TokenDraw> draw_configs(int64_t vocab) {
  return {
      {0.f, 0, 1.f, 0.0},            // greedy
      {0.f, 5, 0.5f, 0.0},           // greedy: the filters are not read
      {1.f, 0, 1.f, 0.0},            // temperature only
      {0.6f, 0, 1.f, 0.0},
      {1.7f, 0, 1.f, 0.0},
      {1.f, 1, 1.f, 0.0},            // top-k
      {0.8f, 5, 1.f, 0.0},
      {1.f, vocab - 1, 1.f, 0.0},
      {1.2f, vocab, 1.f, 0.0},
      {1.f, vocab + 5, 1.f, 0.0},
      {1.f, 0, 0.05f, 0.0},          // top-p
      {0.7f, 0, 0.5f, 0.0},
      {1.f, 0, 0.9f, 0.0},
      {1.3f, 0, 1.f, 0.0},
      {0.8f, 40, 0.9f, 0.0},         // both
      {1.f, 5, 0.5f, 0.0},
      {0.5f, vocab - 1, 0.05f, 0.0},
      {2.f, 1000, 0.95f, 0.0},
  };
}

std::string describe(const TokenDraw& d) {
  std::ostringstream os;
  os.precision(17);
  os << "temperature " << d.temperature << " top_k " << d.top_k << " top_p " << d.top_p << " uniform " << d.uniform;
  return os.str();
}

TEST_F(CudaBackendTest, SampleTokensDrawsTheCpuReferenceTokens) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> random_uniform(0.0, 1.0);
  // Cycled through the rows: the ends of [0, 1), halves and quarters (exact
  // interval starts on the constant rows) and random draws.
  const double uniforms[] = {0.0, 0.999999, 0.5, 0.25, -1.0, -1.0, -1.0};  // -1: random
  std::vector<std::pair<float, int32_t>> scratch;
  for (int64_t vocab : {1, 7, 1000, 32000, 128256}) {
    const std::vector<LogitRow> kinds = logit_rows(vocab, rng);
    const std::vector<TokenDraw> configs = draw_configs(vocab);
    std::vector<float> logits;
    std::vector<TokenDraw> draws;
    std::vector<size_t> kind_of_row;
    size_t cycle = 0;
    for (size_t k = 0; k < kinds.size(); ++k) {
      for (const TokenDraw& config : configs) {
        for (int repeat = 0; repeat < 2; ++repeat) {
          TokenDraw d = config;
          const double u = uniforms[cycle++ % std::size(uniforms)];
          d.uniform = u < 0 ? random_uniform(rng) : u;
          draws.push_back(d);
          kind_of_row.push_back(k);
          logits.insert(logits.end(), kinds[k].logits.begin(), kinds[k].logits.end());
        }
      }
    }
    const int64_t n_rows = int64_t(draws.size());
    Arena arena(*cuda_);
    const float* device_logits = arena.put(logits);
    std::vector<int32_t> tokens(draws.size(), -1);
    cuda_->sample_tokens(device_logits, n_rows, vocab, draws, tokens.data());

    int mismatches = 0;
    for (int64_t row = 0; row < n_rows; ++row) {
      const std::vector<float>& row_logits = kinds[kind_of_row[row]].logits;
      const TokenDraw& d = draws[row];
      const int32_t expected = cpu::draw_token(row_logits, d, scratch);
      const int32_t got = tokens[row];
      if (got == expected) continue;
      if (++mismatches > 20) continue;  // the count below says how many more
      std::ostringstream why;
      why << "vocab " << vocab << ", row " << row << " (" << kinds[kind_of_row[row]].kind << "), " << describe(d)
          << ": cpu " << expected << " (logit " << row_logits[size_t(expected)] << "), cuda " << got;
      if (got >= 0 && got < vocab) why << " (logit " << row_logits[size_t(got)] << ")";
      if (d.temperature != 0.f) {
        TokenDraw below = d, above = d;
        below.uniform = std::max(0.0, d.uniform - 1e-6);
        above.uniform = std::min(0.9999999, d.uniform + 1e-6);
        why << "; cpu at uniform -/+ 1e-6: " << cpu::draw_token(row_logits, below, scratch) << " / "
            << cpu::draw_token(row_logits, above, scratch);
      }
      ADD_FAILURE() << why.str();
    }
    EXPECT_EQ(mismatches, 0) << "vocab " << vocab << ": " << mismatches << " of " << n_rows << " rows differ";
  }
}

TEST_F(CudaBackendTest, SampleTokensOfNoRowsAndOfOneRow) {
  Arena arena(*cuda_);
  const float* logits = arena.put(std::vector<float>{0.5f, 3.f, -1.f, 3.f});
  std::vector<int32_t> tokens(1, -1);
  cuda_->sample_tokens(logits, 0, 4, {}, tokens.data());
  EXPECT_EQ(tokens[0], -1) << "no rows: nothing written";
  const TokenDraw greedy{};
  cuda_->sample_tokens(logits, 1, 4, std::span<const TokenDraw>(&greedy, 1), tokens.data());
  EXPECT_EQ(tokens[0], 1);
  const TokenDraw last{1.f, 2, 1.f, 0.999999};  // top-2 keeps ids 1 and 3; just below 1 takes id 3
  cuda_->sample_tokens(logits, 1, 4, std::span<const TokenDraw>(&last, 1), tokens.data());
  EXPECT_EQ(tokens[0], 3);
}

// ---- copy_regions: one kernel for many copies of any alignment ----

TEST_F(CudaBackendTest, CopyRegionsOfEveryAlignment) {
  constexpr int64_t kBytes = 65536;
  std::vector<uint8_t> host_src(static_cast<size_t>(kBytes)), host_dst(static_cast<size_t>(kBytes), 0xCD);
  for (size_t i = 0; i < host_src.size(); ++i) host_src[i] = uint8_t((i * 131 + i / 256) & 0xFF);
  Arena arena(*cuda_);
  uint8_t* src = arena.put(host_src);
  uint8_t* dst = arena.put(host_dst);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(src) % 16, 0u);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(dst) % 16, 0u);

  struct Offsets {
    int64_t dst, src, bytes;
  };
  // Destinations are disjoint and increasing.
  const Offsets offsets[] = {
      {0, 4096, 4096},       // 16-byte aligned addresses and size
      {4096, 48, 160},       // 16-byte aligned
      {4256, 8196, 4},       // 4-byte aligned source
      {4272, 100, 1000},     // 4-byte aligned source and size
      {5276, 2000, 200},     // 4-byte aligned destination
      {5480, 3000, 33},      // 8-byte aligned addresses, odd size
      {5520, 3333, 77},      // odd source
      {5601, 4096, 64},      // odd destination, aligned size
      {5700, 7, 0},          // nothing
      {5701, 9999, 1},       // one byte
      {5760, 16000, 16},     // one 16-byte unit
      {6000, 20000, 20003},  // large, odd size
      {26500, 123, 5},       // odd everything
      {26600, 40000, 24000}, // large and aligned: many units per thread
  };
  std::vector<CopyRegion> regions;
  for (const Offsets& o : offsets) {
    regions.push_back({dst + o.dst, src + o.src, o.bytes});
    std::memcpy(host_dst.data() + o.dst, host_src.data() + o.src, size_t(o.bytes));
  }
  cuda_->copy_regions(regions);
  const std::vector<uint8_t> got = arena.get(dst, size_t(kBytes));
  size_t first_bad = got.size();
  for (size_t i = 0; i < got.size() && first_bad == got.size(); ++i)
    if (got[i] != host_dst[i]) first_bad = i;
  EXPECT_EQ(first_bad, got.size()) << "first differing byte";
  EXPECT_EQ(arena.get(src, size_t(kBytes)), host_src) << "the source is only read";

  // More regions than the kernel has blocks (65535): each block copies several.
  constexpr int64_t kMany = 70000;
  std::vector<uint8_t> host_many(size_t(3 * kMany), 0x5A);
  uint8_t* many = arena.put(host_many);
  regions.clear();
  for (int64_t i = 0; i < kMany; ++i) {
    const int64_t bytes = 1 + i % 3, from = (i * 7919) % (kBytes - 3);
    regions.push_back({many + 3 * i, src + from, bytes});
    std::memcpy(host_many.data() + 3 * i, host_src.data() + from, size_t(bytes));
  }
  cuda_->copy_regions(regions);
  EXPECT_EQ(arena.get(many, host_many.size()), host_many);
  cuda_->copy_regions(std::span<const CopyRegion>());  // no regions: nothing to do
  EXPECT_EQ(arena.get(many, host_many.size()), host_many);
}

// ---- run_recorded: CUDA graphs replay the recorded ops on new contents ----

TEST_F(CudaBackendTest, RunRecordedReplaysOnNewInputs) {
  auto& cuda = static_cast<CudaBackend&>(*cuda_);
  std::mt19937 rng(12);
  struct Case {
    int64_t n_tokens, rows, cols;
    DType dtype;
  };
  // 3 tokens take the GEMV, 16 cuBLAS (captured with its fixed workspace).
  for (const Case c : {Case{3, 96, 130, DType::F32}, Case{3, 64, 256, DType::BF16}, Case{16, 256, 512, DType::F32}}) {
    const std::string where = std::to_string(c.n_tokens) + " tokens " + std::to_string(c.rows) + "x" +
                              std::to_string(c.cols) + " " + std::string(dtype_name(c.dtype));
    const StoredMatrix w(c.dtype, c.rows, c.cols, rng, 1.f / std::sqrt(float(c.cols)));
    const auto norm_weight = random_floats(size_t(c.cols), rng);
    const size_t x_size = size_t(c.n_tokens * c.cols), y_size = size_t(c.n_tokens * c.rows);

    Arena arena(*cuda_);
    const WeightMatrix w_device = w.put(arena);
    const float* norm_device = arena.put(norm_weight);
    float* x = arena.put(std::vector<float>(x_size));
    float* normed = arena.put(std::vector<float>(x_size));
    float* proj = arena.put(std::vector<float>(y_size));
    float* y = arena.put(std::vector<float>(y_size));
    // The ops of one recorded sequence: y += W . rmsnorm(x), on fixed pointers.
    const auto ops = [&] {
      cuda.rmsnorm(x, norm_device, c.n_tokens, c.cols, 1e-5f, normed);
      cuda.matmul(normed, c.n_tokens, w_device, proj);
      cuda.add(y, proj, int64_t(y_size));
    };
    Arena cpu_arena(*cpu_);
    const WeightMatrix w_host = w.put(cpu_arena);

    const int owner_tag = 0;
    const void* owner = &owner_tag;
    for (int run = 1; run <= 5; ++run) {
      // New input contents each run, the same pointers.
      std::vector<float> host_x = random_floats(x_size, rng, 2.f), host_y = random_floats(y_size, rng);
      cuda.copy_from_host(x, host_x.data(), int64_t(x_size * sizeof(float)));
      cuda.copy_from_host(y, host_y.data(), int64_t(y_size * sizeof(float)));
      const std::vector<float> stale(y_size, std::numeric_limits<float>::quiet_NaN());
      cuda.copy_from_host(proj, stale.data(), int64_t(y_size * sizeof(float)));
      if (run == 5) cuda.forget_recordings(owner);
      cuda.run_recorded(owner, 7, ops);
      const std::vector<float> actual = arena.get(y, y_size);

      std::vector<float> host_normed(x_size), host_proj(y_size);
      cpu_->rmsnorm(host_x.data(), norm_weight.data(), c.n_tokens, c.cols, 1e-5f, host_normed.data());
      cpu_->matmul(host_normed.data(), c.n_tokens, w_host, host_proj.data());
      cpu_->add(host_y.data(), host_proj.data(), int64_t(y_size));
      EXPECT_LT(nmse(host_y, actual), kNmseF32) << where << ", run " << run;

      // Run 1 is issued op by op, run 2 captured and launched, runs 3 and 4
      // replay; run 5 follows forget_recordings: op by op again.
      const size_t held = cuda.graphs_enabled() && run >= 2 && run <= 4 ? 1 : 0;
      EXPECT_EQ(cuda.graphs_held(), held) << where << ", after run " << run;
    }
    // Another owner's recording is not forgotten with this one's.
    const int other_tag = 0;
    cuda.run_recorded(&other_tag, 7, ops);
    cuda.run_recorded(&other_tag, 7, ops);
    cuda.run_recorded(owner, 7, ops);  // owner's second run: captured
    EXPECT_EQ(cuda.graphs_held(), cuda.graphs_enabled() ? 2u : 0u) << where;
    cuda.forget_recordings(&other_tag);
    EXPECT_EQ(cuda.graphs_held(), cuda.graphs_enabled() ? 1u : 0u) << where;
    cuda.forget_recordings(owner);
    EXPECT_EQ(cuda.graphs_held(), 0u) << where;
  }
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
