// The oneDNN 16-bit matmul: activation rounding bit for bit against the
// scalar conversions, and products over row slices against a double
// reference of the rounded operands.
#include "kernels/cpu/onednn_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"

namespace slkv {
namespace {

uint16_t scalar_round(DType dtype, float value) {
  return dtype == DType::BF16 ? float_to_bf16(value) : float_to_f16(value);
}

float widen(DType dtype, uint16_t bits) { return dtype == DType::BF16 ? bf16_to_float(bits) : f16_to_float(bits); }

class RoundTo16BitTest : public ::testing::TestWithParam<DType> {};

// Random values over many magnitudes, exact ties, specials and subnormals,
// at every tail length of the 16-lane loop.
TEST_P(RoundTo16BitTest, MatchesScalarRounding) {
  const DType dtype = GetParam();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> mantissa(-2.f, 2.f);
  std::uniform_int_distribution<int> exponent(-30, 30);
  std::vector<float> values;
  for (int i = 0; i < 4000; ++i) values.push_back(std::ldexp(mantissa(rng), exponent(rng)));
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.f, -0.f, inf, -inf, 1.f + 1.f / 256, 1.f + 3.f / 256, 1.f + 1.f / 2048, 65504.f, 70000.f,
                  1e-40f, -3e-39f, std::numeric_limits<float>::min(), 6e-8f})
    values.push_back(v);
  for (size_t n : {size_t(1), size_t(15), size_t(16), size_t(17), values.size()}) {
    std::vector<uint16_t> out(n + 1, 0xabcd);
    cpu::round_to_16bit(dtype, values.data(), int64_t(n), out.data());
    for (size_t i = 0; i < n; ++i)
      ASSERT_EQ(out[i], scalar_round(dtype, values[i])) << "value " << values[i] << " n=" << n;
    EXPECT_EQ(out[n], 0xabcd) << "wrote past n=" << n;
  }
  // A NaN stays a NaN.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  uint16_t bits = 0;
  cpu::round_to_16bit(dtype, &nan, 1, &bits);
  EXPECT_TRUE(std::isnan(widen(dtype, bits)));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RoundTo16BitTest, ::testing::Values(DType::BF16, DType::F16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(RoundTo16BitTest, F32IsNotA16BitType) {
  const float x = 1.f;
  uint16_t out = 0;
  EXPECT_THROW(cpu::round_to_16bit(DType::F32, &x, 1, &out), InternalError);
}

TEST(OnednnNativeTest, F32IsNeverNative) { EXPECT_FALSE(cpu::onednn_native_16bit(DType::F32)); }

// Row slices of W (as the threads split them) write exactly their columns of
// y, for several shapes in a row (each its own cached primitive) and again
// (the cached ones reused).
TEST(OnednnMatmulTest, RowSlicesMatchReference) {
  if (!cpu::onednn_native_16bit(DType::BF16)) GTEST_SKIP() << "this CPU has no AVX512-BF16 or AMX";
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  struct Case {
    int64_t n_tokens, rows, cols, row_begin, row_end;
  };
  const Case cases[] = {{512, 96, 200, 0, 96}, {37, 96, 200, 16, 80}, {1, 33, 17, 0, 33}, {64, 70, 130, 48, 70},
                        {512, 96, 200, 0, 96}, {37, 96, 200, 16, 80}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.n_tokens << " x [" << c.rows << ", " << c.cols << "] rows " << c.row_begin
                                      << ".." << c.row_end);
    std::vector<uint16_t> x(size_t(c.n_tokens * c.cols)), w(size_t(c.rows * c.cols));
    for (auto& v : x) v = float_to_bf16(dist(rng));
    for (auto& v : w) v = float_to_bf16(dist(rng));
    std::vector<float> y(size_t(c.n_tokens * c.rows), NAN);
    const WeightMatrix slice{w.data() + c.row_begin * c.cols, DType::BF16, c.row_end - c.row_begin, c.cols};
    cpu::onednn_matmul(x.data(), c.n_tokens, slice, y.data() + c.row_begin, c.rows);
    for (int64_t t = 0; t < c.n_tokens; ++t) {
      for (int64_t r = 0; r < c.rows; ++r) {
        const float got = y[size_t(t * c.rows + r)];
        if (r < c.row_begin || r >= c.row_end) {
          ASSERT_TRUE(std::isnan(got)) << "wrote outside its rows: token " << t << " row " << r;
          continue;
        }
        double sum = 0, magnitude = 0;
        for (int64_t k = 0; k < c.cols; ++k) {
          const double term = double(bf16_to_float(x[size_t(t * c.cols + k)])) * bf16_to_float(w[size_t(r * c.cols + k)]);
          sum += term;
          magnitude += std::abs(term);
        }
        ASSERT_NEAR(got, sum, 1e-5 * magnitude + 1e-7) << "token " << t << " row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace slkv
