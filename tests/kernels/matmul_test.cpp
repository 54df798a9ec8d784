// The CPU matmul paths (decode gemv, prefill gemm, and the matmul dispatcher)
// against a double-precision reference, for every weight dtype. Weights are
// quantised to the dtype first, so only the fp32 accumulation order differs.
#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/onednn_matmul.h"

namespace slkv {
namespace {

// A random weight matrix held in its dtype, plus its exact fp32 values.
struct TestMatrix {
  DType dtype;
  int64_t rows, cols;
  std::vector<float> f32;        // the data when dtype is F32
  std::vector<uint16_t> bits16;  // the data when dtype is F16/BF16
  std::vector<float> values;     // what the stored elements mean, for the reference

  WeightMatrix view() const {
    const void* data = dtype == DType::F32 ? static_cast<const void*>(f32.data()) : bits16.data();
    return {data, dtype, rows, cols};
  }
};

TestMatrix random_matrix(DType dtype, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  TestMatrix m{dtype, rows, cols, {}, {}, {}};
  m.values.resize(size_t(rows * cols));
  if (dtype == DType::F32)
    m.f32.resize(m.values.size());
  else
    m.bits16.resize(m.values.size());
  for (size_t i = 0; i < m.values.size(); ++i) {
    const float v = dist(rng);
    switch (dtype) {
      case DType::F32:
        m.f32[i] = m.values[i] = v;
        break;
      case DType::F16:
        m.bits16[i] = float_to_f16(v);
        m.values[i] = f16_to_float(m.bits16[i]);
        break;
      case DType::BF16:
        m.bits16[i] = float_to_bf16(v);
        m.values[i] = bf16_to_float(m.bits16[i]);
        break;
    }
  }
  return m;
}

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// x rounded to the weight type, as the 16-bit GEMMs and tiles multiply it.
std::vector<float> rounded(const std::vector<float>& x, DType dtype) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    out[i] = dtype == DType::BF16 ? bf16_to_float(float_to_bf16(x[i])) : f16_to_float(float_to_f16(x[i]));
  return out;
}

// x as gemm() multiplies it: rounded to the weight type when
// onednn_native_16bit(dtype), unchanged otherwise.
std::vector<float> as_multiplied(const std::vector<float>& x, DType dtype) {
  return cpu::onednn_native_16bit(dtype) ? rounded(x, dtype) : x;
}

// Checks y against the double reference; the error allowed scales with
// sum |x*w| (the size of the terms), which bounds fp32 accumulation error.
void expect_matches_reference(const std::vector<float>& x, int64_t n_tokens, const TestMatrix& w,
                              const std::vector<float>& y) {
  constexpr double kRelative = 1e-5;
  int failures = 0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < w.rows; ++r) {
      double sum = 0, magnitude = 0;
      for (int64_t c = 0; c < w.cols; ++c) {
        const double term = double(x[t * w.cols + c]) * w.values[r * w.cols + c];
        sum += term;
        magnitude += std::abs(term);
      }
      const double got = y[t * w.rows + r];
      // Written this way round, a y left NaN (never computed) fails too.
      if (!(std::abs(got - sum) <= kRelative * magnitude + 1e-7) && ++failures <= 5)
        ADD_FAILURE() << "token " << t << " row " << r << ": got " << got << ", want " << sum;
    }
  }
}

using MatmulFn = void (*)(const float*, int64_t, const WeightMatrix&, float*, int);

struct Shape {
  int64_t rows, cols;
};

// Odd sizes: rows not a multiple of the 4/8-row tiles or the 16-row thread
// split, cols not a multiple of the GEMV's 32-column step (tails of 1..31,
// exactly half a step at 48), and matrices big enough (>= 32K weights) to be
// split across threads.
const Shape kShapes[] = {{1, 1},    {3, 5},     {7, 16},     {5, 31},     {17, 33},   {9, 48},
                         {64, 64},  {33, 100},  {130, 255},  {257, 1000}, {1030, 70}};
// Every GEMV tile remainder (1..4 tokens) and both sides of kGemmMinTokens,
// kGemmMinTokensF32 and kGemmWidenedMinTokens.
const int64_t kTokenCounts[] = {1, 2, 3, 4, 5, 7, 8, 11, 12, 15, 16, 17, 33, 64};

// What each path is checked against: the x it multiplies (the error allowed
// is 1e-5 of sum |x*w| in every case).
enum class Reference {
  kExact,       // fp32 products of x as given (gemv, gemm_widened)
  kMultiplied,  // x as gemm() multiplies it (rounded where 16-bit native)
  kDispatched,  // matmul(): rounded exactly where cpu::matmul_rounds_input says
};

class MatmulTest : public ::testing::TestWithParam<DType> {
 protected:
  void check_path(MatmulFn fn, const char* path, Reference reference = Reference::kExact) {
    std::mt19937 rng(1234);
    for (const Shape& shape : kShapes) {
      const TestMatrix w = random_matrix(GetParam(), shape.rows, shape.cols, rng);
      for (int64_t n_tokens : kTokenCounts) {
        const std::vector<float> x = random_vector(size_t(n_tokens * shape.cols), rng);
        std::vector<float> y1(size_t(n_tokens * shape.rows), NAN), y2(y1.size(), NAN);
        SCOPED_TRACE(::testing::Message() << path << " " << dtype_name(GetParam()) << " [" << shape.rows << "x"
                                          << shape.cols << "] n_tokens=" << n_tokens);
        std::vector<float> x_ref = x;
        if (reference == Reference::kMultiplied) x_ref = as_multiplied(x, GetParam());
        if (reference == Reference::kDispatched && cpu::matmul_rounds_input(n_tokens, w.view()))
          x_ref = rounded(x, GetParam());
        fn(x.data(), n_tokens, w.view(), y1.data(), 1);
        expect_matches_reference(x_ref, n_tokens, w, y1);
        fn(x.data(), n_tokens, w.view(), y2.data(), 2);
        expect_matches_reference(x_ref, n_tokens, w, y2);
      }
    }
  }
};

TEST_P(MatmulTest, GemvMatchesReference) { check_path(&cpu::gemv, "gemv"); }
TEST_P(MatmulTest, GemmMatchesReference) { check_path(&cpu::gemm, "gemm", Reference::kMultiplied); }
TEST_P(MatmulTest, GemmWidenedMatchesReference) { check_path(&cpu::gemm_widened, "gemm_widened"); }
TEST_P(MatmulTest, DispatcherMatchesReference) { check_path(&cpu::matmul, "matmul", Reference::kDispatched); }

// A matrix large enough for several 16-bit widening panels per thread.
TEST_P(MatmulTest, LargeGemmUsesSeveralPanels) {
  std::mt19937 rng(99);
  const TestMatrix w = random_matrix(GetParam(), 1500, 600, rng);
  const int64_t n_tokens = 20;
  const std::vector<float> x = random_vector(size_t(n_tokens * w.cols), rng);
  std::vector<float> y(size_t(n_tokens * w.rows));
  cpu::gemm_widened(x.data(), n_tokens, w.view(), y.data(), 2);
  expect_matches_reference(x, n_tokens, w, y);
  cpu::gemm(x.data(), n_tokens, w.view(), y.data(), 2);
  expect_matches_reference(as_multiplied(x, GetParam()), n_tokens, w, y);
}

// A whole 512-token prompt, the prefill shape, on odd matrix sizes.
TEST_P(MatmulTest, PrefillOf512Tokens) {
  std::mt19937 rng(512);
  for (const Shape& shape : {Shape{200, 300}, Shape{37, 70}}) {
    const TestMatrix w = random_matrix(GetParam(), shape.rows, shape.cols, rng);
    const int64_t n_tokens = 512;
    const std::vector<float> x = random_vector(size_t(n_tokens * w.cols), rng);
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "[" << shape.rows << "x" << shape.cols << "] threads=" << threads);
      std::vector<float> y(size_t(n_tokens * w.rows), NAN);
      cpu::matmul(x.data(), n_tokens, w.view(), y.data(), threads);
      expect_matches_reference(cpu::matmul_rounds_input(n_tokens, w.view()) ? rounded(x, GetParam()) : x, n_tokens, w,
                               y);
    }
  }
}

TEST_P(MatmulTest, BackendMatmul) {
  std::mt19937 rng(7);
  const TestMatrix w = random_matrix(GetParam(), 96, 200, rng);
  for (int threads : {1, 2}) {
    auto backend = make_cpu_backend(threads);
    for (int64_t n_tokens : {1, 3, 33}) {
      const std::vector<float> x = random_vector(size_t(n_tokens * w.cols), rng);
      std::vector<float> y(size_t(n_tokens * w.rows));
      backend->matmul(x.data(), n_tokens, w.view(), y.data());
      expect_matches_reference(x, n_tokens, w, y);
    }
  }
}

// Several matrices of one input give what one matmul() each gives, on the
// GEMV and the GEMM paths, also with mixed dtypes (x rounded per dtype).
TEST_P(MatmulTest, GroupEqualsSeparateProducts) {
  std::mt19937 rng(11);
  const TestMatrix a = random_matrix(GetParam(), 300, 512, rng);
  const TestMatrix b = random_matrix(GetParam(), 129, 512, rng);
  const TestMatrix c = random_matrix(DType::BF16, 400, 512, rng);
  const TestMatrix d = random_matrix(DType::F32, 200, 512, rng);
  for (int64_t n_tokens : {1, 5, 40}) {
    SCOPED_TRACE(::testing::Message() << "n_tokens=" << n_tokens);
    const std::vector<float> x = random_vector(size_t(n_tokens * 512), rng);
    std::vector<std::vector<float>> grouped, separate;
    for (const TestMatrix* m : {&a, &b, &c, &d}) {
      grouped.emplace_back(size_t(n_tokens * m->rows), NAN);
      separate.emplace_back(size_t(n_tokens * m->rows), NAN);
      cpu::matmul(x.data(), n_tokens, m->view(), separate.back().data(), 2);
    }
    const MatmulOutput outputs[] = {
        {a.view(), grouped[0].data()}, {b.view(), grouped[1].data()},
        {c.view(), grouped[2].data()}, {d.view(), grouped[3].data()}};
    cpu::matmul_group(x.data(), n_tokens, outputs, 2);
    for (size_t i = 0; i < grouped.size(); ++i) EXPECT_EQ(grouped[i], separate[i]) << "output " << i;
  }
}

// Past 7/8 of its rows, each output's rows go to whichever thread is free,
// in 64-row chunks taken across the whole group: every row is computed, once
// (y starts as NaN). One token and two take the GEMV tiles; from four, BF16
// takes its register tiles in one region (on CPUs with AVX512-BF16), the
// other types their GEMV tiles or the GEMM.
TEST_P(MatmulTest, GroupTailChunksCoverEveryRow) {
  std::mt19937 rng(5);
  constexpr int64_t kCols = 256;  // every matrix past the cache-resident size, so all share one region
  const TestMatrix a = random_matrix(GetParam(), 1100, kCols, rng);  // 2 chunks, rows not a multiple of 64
  const TestMatrix b = random_matrix(GetParam(), 777, kCols, rng);   // 1 chunk
  const TestMatrix c = random_matrix(GetParam(), 2048, kCols, rng);  // 4 chunks
  for (int64_t n_tokens : {1, 2, 3, 5, 16}) {
    SCOPED_TRACE(::testing::Message() << "n_tokens=" << n_tokens);
    const std::vector<float> x = random_vector(size_t(n_tokens * kCols), rng);
    std::vector<std::vector<float>> grouped;
    for (const TestMatrix* m : {&a, &b, &c}) grouped.emplace_back(size_t(n_tokens * m->rows), NAN);
    const MatmulOutput outputs[] = {
        {a.view(), grouped[0].data()}, {b.view(), grouped[1].data()}, {c.view(), grouped[2].data()}};
    cpu::matmul_group(x.data(), n_tokens, outputs, 2);
    const std::vector<float> x_ref = cpu::matmul_rounds_input(n_tokens, a.view()) ? rounded(x, GetParam()) : x;
    expect_matches_reference(x_ref, n_tokens, a, grouped[0]);
    expect_matches_reference(x_ref, n_tokens, b, grouped[1]);
    expect_matches_reference(x_ref, n_tokens, c, grouped[2]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, MatmulTest, ::testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(MatmulTest, EmptyShapes) {
  const float x[4] = {1, 2, 3, 4};
  float y[4] = {5, 5, 5, 5};
  const float w[4] = {1, 1, 1, 1};
  cpu::matmul(x, 0, {w, DType::F32, 2, 2}, y, 2);  // no tokens: nothing written
  EXPECT_EQ(y[0], 5.f);
  cpu::gemv(x, 2, {w, DType::F32, 2, 0}, y, 2);  // zero cols: zeros
  cpu::gemm(x, 2, {w, DType::F32, 2, 0}, y, 2);
  for (float v : y) EXPECT_EQ(v, 0.f);
}

}  // namespace
}  // namespace slkv
