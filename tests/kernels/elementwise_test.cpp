// rmsnorm, rope, swiglu, add, add_bias and embedding of the CPU backend
// against straightforward double-precision references.
#include "kernels/cpu/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/backend.h"

namespace slkv {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng, float range = 1.f) {
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(RmsnormTest, MatchesReference) {
  std::mt19937 rng(1);
  for (int64_t dim : {1, 7, 16, 64, 100, 4099}) {
    for (int64_t n_tokens : {1, 3, 17}) {
      const std::vector<float> x = random_vector(size_t(n_tokens * dim), rng, 3.f);
      const std::vector<float> weight = random_vector(size_t(dim), rng);
      for (int threads : {1, 2}) {
        std::vector<float> y(x.size());
        cpu::rmsnorm(x.data(), weight.data(), n_tokens, dim, 1e-5f, y.data(), threads);
        for (int64_t t = 0; t < n_tokens; ++t) {
          double sum_squares = 0;
          for (int64_t i = 0; i < dim; ++i) sum_squares += double(x[t * dim + i]) * x[t * dim + i];
          const double inv_rms = 1.0 / std::sqrt(sum_squares / double(dim) + 1e-5);
          for (int64_t i = 0; i < dim; ++i) {
            const double want = x[t * dim + i] * inv_rms * weight[i];
            ASSERT_NEAR(y[t * dim + i], want, 1e-5 * (std::abs(want) + 1e-3))
                << "dim " << dim << " token " << t << " i " << i << " threads " << threads;
          }
        }
      }
    }
  }
}

TEST(RmsnormTest, InPlace) {
  std::mt19937 rng(2);
  std::vector<float> x = random_vector(300, rng);
  const std::vector<float> weight = random_vector(100, rng);
  std::vector<float> expected(x.size());
  cpu::rmsnorm(x.data(), weight.data(), 3, 100, 1e-6f, expected.data(), 1);
  cpu::rmsnorm(x.data(), weight.data(), 3, 100, 1e-6f, x.data(), 1);
  EXPECT_EQ(x, expected);
}

std::vector<float> inv_freq_for(int64_t head_dim, float theta) {
  std::vector<float> inv_freq(size_t(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i)
    inv_freq[i] = float(1.0 / std::pow(double(theta), double(2 * i) / double(head_dim)));
  return inv_freq;
}

// Rotate-half RoPE with the angle as a float (HF computes it in float32)
// and cos/sin in double: against the kernel's float cos/sin. With an exact
// double angle the float angle's rounding is the only extra error, which at
// position 500 stays below 1e-4.
void check_rope(int64_t n_heads, int64_t head_dim, const std::vector<int32_t>& positions, int threads, bool exact_angle,
                double tolerance) {
  std::mt19937 rng(3);
  const int64_t n_tokens = int64_t(positions.size());
  const std::vector<float> inv_freq = inv_freq_for(head_dim, 10000.f);
  const std::vector<float> x = random_vector(size_t(n_tokens * n_heads * head_dim), rng);
  std::vector<float> y = x;
  cpu::rope(y.data(), positions.data(), n_tokens, n_heads, head_dim, inv_freq.data(), threads);
  const int64_t half = head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      const float* in = x.data() + (t * n_heads + h) * head_dim;
      const float* out = y.data() + (t * n_heads + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const double angle =
            exact_angle ? double(positions[t]) * double(inv_freq[i]) : double(float(positions[t]) * inv_freq[i]);
        const double want_first = in[i] * std::cos(angle) - in[i + half] * std::sin(angle);
        const double want_second = in[i + half] * std::cos(angle) + in[i] * std::sin(angle);
        ASSERT_NEAR(out[i], want_first, tolerance) << "pos " << positions[t] << " head " << h << " i " << i;
        ASSERT_NEAR(out[i + half], want_second, tolerance) << "pos " << positions[t] << " head " << h << " i " << i;
      }
    }
  }
}

TEST(RopeTest, MatchesReference) {
  for (int64_t head_dim : {2, 8, 40, 64, 128, 256}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "head_dim " << head_dim << " threads " << threads);
      check_rope(3, head_dim, {0, 1, 2, 7, 100, 500, 4095, 32000}, threads, false, 2e-6);
    }
  }
}

TEST(RopeTest, PrecisionAtPosition500) {
  check_rope(2, 64, {500, 501, 511}, 1, true, 1e-4);
  check_rope(2, 128, {500}, 1, true, 1e-4);
}

TEST(RopeTest, ManyTokensThreaded) {
  std::vector<int32_t> positions(600);
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = int32_t(i);
  check_rope(4, 64, positions, 2, false, 2e-6);
}

TEST(SwigluTest, MatchesReference) {
  std::mt19937 rng(4);
  for (int64_t n : {1, 15, 16, 17, 1000, 70001}) {
    const std::vector<float> gate = random_vector(size_t(n), rng, 20.f);
    const std::vector<float> up = random_vector(size_t(n), rng, 2.f);
    for (int threads : {1, 2}) {
      std::vector<float> out(static_cast<size_t>(n));
      cpu::swiglu(gate.data(), up.data(), n, out.data(), threads);
      for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        const double want = g / (1.0 + std::exp(-g)) * up[i];
        ASSERT_NEAR(out[i], want, 2e-6 * std::abs(want) + 1e-7) << "n " << n << " i " << i << " gate " << g;
      }
    }
  }
}

TEST(SwigluTest, ExtremeGates) {
  const std::vector<float> gate = {-200.f, -90.f, -10.f, 0.f, 10.f, 90.f, 200.f};
  const std::vector<float> up(gate.size(), 1.f);
  std::vector<float> out(gate.size());
  cpu::swiglu(gate.data(), up.data(), int64_t(gate.size()), out.data(), 1);
  for (size_t i = 0; i < gate.size(); ++i) {
    const double want = gate[i] / (1.0 + std::exp(-double(gate[i])));
    EXPECT_TRUE(std::isfinite(out[i])) << gate[i];
    EXPECT_NEAR(out[i], want, 1e-6 * std::abs(want) + 1e-30) << gate[i];
  }
}

TEST(AddTest, AddAndBias) {
  std::mt19937 rng(5);
  for (int64_t dim : {1, 16, 37}) {
    const int64_t n_tokens = 3;
    const std::vector<float> x = random_vector(size_t(n_tokens * dim), rng);
    const std::vector<float> bias = random_vector(size_t(dim), rng);
    std::vector<float> y = random_vector(size_t(n_tokens * dim), rng);
    const std::vector<float> y0 = y;
    cpu::add(y.data(), x.data(), n_tokens * dim);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], y0[i] + x[i]);
    cpu::add_bias(y.data(), bias.data(), n_tokens, dim);
    for (int64_t t = 0; t < n_tokens; ++t)
      for (int64_t i = 0; i < dim; ++i) ASSERT_EQ(y[t * dim + i], (y0[t * dim + i] + x[t * dim + i]) + bias[i]);
  }
}

TEST(EmbeddingTest, WidensEachDtype) {
  std::mt19937 rng(6);
  const int64_t rows = 11, cols = 37;
  const std::vector<float> values = random_vector(size_t(rows * cols), rng);
  std::vector<uint16_t> f16(values.size()), bf16(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    f16[i] = float_to_f16(values[i]);
    bf16[i] = float_to_bf16(values[i]);
  }
  const std::vector<int32_t> ids = {3, 0, 10, 3};
  std::vector<float> out(ids.size() * cols);
  auto check = [&](const WeightMatrix& table, auto widen) {
    cpu::embedding(table, ids.data(), int64_t(ids.size()), out.data());
    for (size_t t = 0; t < ids.size(); ++t)
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(out[t * cols + c], widen(size_t(ids[t] * cols + c)));
  };
  check({values.data(), DType::F32, rows, cols}, [&](size_t i) { return values[i]; });
  check({f16.data(), DType::F16, rows, cols}, [&](size_t i) { return f16_to_float(f16[i]); });
  check({bf16.data(), DType::BF16, rows, cols}, [&](size_t i) { return bf16_to_float(bf16[i]); });
  const int32_t bad = int32_t(rows);
  EXPECT_ANY_THROW(cpu::embedding({values.data(), DType::F32, rows, cols}, &bad, 1, out.data()));
}

TEST(CpuBackendTest, NameAndElementwiseThroughInterface) {
  auto backend = make_cpu_backend(2);
  EXPECT_EQ(backend->name(), "cpu");
  std::vector<float> y = {1, 2, 3};
  const std::vector<float> x = {1, 1, 1};
  backend->add(y.data(), x.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{2, 3, 4}));
  EXPECT_ANY_THROW(make_cpu_backend(0));
}

}  // namespace
}  // namespace slkv
