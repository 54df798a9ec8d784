// The BF16 register tiles (vdpbf16ps) against a double-precision reference
// over the same BF16 operands: every row tail (rows not a multiple of the
// 4-row tile, or at one and two tokens of the 8 streams), column tail (cols
// not a multiple of the 32-element line), token remainder (1-3 past the
// 4-token tile) and a row range that starts inside the matrix. Products of two BF16 values are exact in fp32, so only
// the fp32 accumulation differs from the reference. Skipped, with the
// reason, on a CPU without AVX512-BF16.
#include "kernels/cpu/bf16_dot_tiles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace slkv {
namespace {

std::vector<uint16_t> random_bf16(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<uint16_t> v(n);
  for (uint16_t& e : v) e = float_to_bf16(dist(rng));
  return v;
}

TEST(Bf16DotTiles, MatchesTheReferenceForEveryTail) {
  if (!cpu::bf16_dot_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16 (vdpbf16ps)";
  std::mt19937 rng(99);
  struct Shape {
    int64_t rows, cols;
  };
  for (const Shape shape : {Shape{1, 1}, Shape{3, 31}, Shape{4, 32}, Shape{5, 33}, Shape{7, 64}, Shape{9, 100},
                            Shape{37, 768}, Shape{64, 1000}}) {
    const std::vector<uint16_t> w = random_bf16(size_t(shape.rows * shape.cols), rng);
    const WeightMatrix matrix{w.data(), DType::BF16, shape.rows, shape.cols};
    for (int64_t n_tokens : {1, 2, 3, 4, 5, 7, 8, 13, 32, 40}) {
      const std::vector<uint16_t> x = random_bf16(size_t(n_tokens * shape.cols), rng);
      // Rows [first, rows): a range that starts inside the matrix leaves the
      // rows before it untouched (NaN stays NaN).
      const int64_t first = shape.rows / 3;
      std::vector<float> y(size_t(n_tokens * shape.rows), NAN);
      cpu::bf16_dot_rows(x.data(), n_tokens, matrix, first, shape.rows, y.data());
      int failures = 0;
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t r = 0; r < shape.rows; ++r) {
          const float got = y[size_t(t * shape.rows + r)];
          if (r < first) {
            EXPECT_TRUE(std::isnan(got)) << "row " << r << " is outside the range but was written";
            continue;
          }
          double sum = 0, magnitude = 0;
          for (int64_t c = 0; c < shape.cols; ++c) {
            const double term =
                double(bf16_to_float(x[size_t(t * shape.cols + c)])) * bf16_to_float(w[size_t(r * shape.cols + c)]);
            sum += term;
            magnitude += std::abs(term);
          }
          if (!(std::abs(got - sum) <= 1e-5 * magnitude + 1e-30) && ++failures <= 5)
            ADD_FAILURE() << shape.rows << "x" << shape.cols << " tokens " << n_tokens << " token " << t << " row " << r
                          << ": got " << got << ", want " << sum;
        }
      }
    }
  }
}

TEST(Bf16DotTiles, RefusesOtherWeightTypesAndBadRanges) {
  if (!cpu::bf16_dot_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16 (vdpbf16ps)";
  const std::vector<uint16_t> w(64, 0), x(32, 0);
  std::vector<float> y(4);
  EXPECT_THROW(cpu::bf16_dot_rows(x.data(), 1, {w.data(), DType::F16, 2, 32}, 0, 2, y.data()), InternalError);
  EXPECT_THROW(cpu::bf16_dot_rows(x.data(), 1, {w.data(), DType::BF16, 2, 32}, 1, 3, y.data()), InternalError);
}

}  // namespace
}  // namespace slkv
