// cpu::draw_token against the definition in kernels/token_draw.h, case by
// case on rows small enough to work out by hand: greedy, the candidate order
// (z descending, then id ascending) at the top-k boundary, the top-p prefix
// that "reaches" top_p, the inverse-CDF draw and temperature. Then Sampler:
// its draws are cpu::draw_token's with the seeded stream's uniforms.
//
// Each `uniform` below is chosen so that a filter or an order that kept a
// different candidate set (or the wrong tie winner) would pick another token.
#include "kernels/cpu/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/token_draw.h"
#include "runtime/sampler.h"

namespace slkv {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// The largest uniform the tests use for "just below 1".
constexpr double kAlmostOne = 0.999999;

int32_t draw(const std::vector<float>& logits, float temperature, int64_t top_k, float top_p, double uniform) {
  std::vector<std::pair<float, int32_t>> scratch;
  return cpu::draw_token(logits, TokenDraw{temperature, top_k, top_p, uniform}, scratch);
}

TEST(CpuArgmax, LowestIndexOfTheLargest) {
  EXPECT_EQ(cpu::argmax(std::vector<float>{1.f, 5.f, 3.f, 5.f, -2.f}), 1);
  EXPECT_EQ(cpu::argmax(std::vector<float>{7.f}), 0);
  EXPECT_EQ(cpu::argmax(std::vector<float>{-kInf, -3.f, -kInf}), 1);
  EXPECT_EQ(cpu::argmax(std::vector<float>{-1.f, -0.f, 0.f}), 1) << "-0 and +0 are equal: the lower id wins";
  EXPECT_EQ(cpu::argmax(std::vector<float>{-1.f, 0.f, -0.f}), 1);
}

TEST(CpuDrawToken, GreedyIsTheArgmaxAndIgnoresEverythingElse) {
  const std::vector<float> logits = {1.f, 5.f, 3.f, 5.f, -2.f};
  for (int64_t top_k : {0, 1, 3, 100})
    for (float top_p : {0.05f, 0.5f, 1.f})
      for (double uniform : {0.0, 0.5, kAlmostOne})
        EXPECT_EQ(draw(logits, 0.f, top_k, top_p, uniform), 1)
            << "top_k " << top_k << " top_p " << top_p << " uniform " << uniform;
  EXPECT_EQ(draw({-kInf, -kInf, -4.f, -kInf}, 0.f, 0, 1.f, 0.0), 2);
}

TEST(CpuDrawToken, TopKKeepsExactlyKWithTiesToTheLowerId) {
  // Candidate order at temperature 1: id1 (3), id3 (3), id2 (2), id4 (2), id5 (2), id0 (1), id6 (0).
  const std::vector<float> logits = {1.f, 3.f, 2.f, 3.f, 2.f, 2.f, 0.f};
  // Just below 1 the draw takes the last kept candidate: which one it is shows
  // which candidates top_k kept and in what order.
  EXPECT_EQ(draw(logits, 1.f, 1, 1.f, kAlmostOne), 1) << "top_k 1: the tie at the top goes to the lower id";
  EXPECT_EQ(draw(logits, 1.f, 2, 1.f, kAlmostOne), 3);
  EXPECT_EQ(draw(logits, 1.f, 3, 1.f, kAlmostOne), 2) << "of the three 2s only the lowest id is kept";
  EXPECT_EQ(draw(logits, 1.f, 4, 1.f, kAlmostOne), 4);
  EXPECT_EQ(draw(logits, 1.f, 5, 1.f, kAlmostOne), 5);
  EXPECT_EQ(draw(logits, 1.f, 6, 1.f, kAlmostOne), 0);
  for (int64_t all : {0, 7, 8, 1000}) EXPECT_EQ(draw(logits, 1.f, all, 1.f, kAlmostOne), 6) << "top_k " << all;

  // top_k 3 keeps weights {1, 1, e^-1} for ids {1, 3, 2}: intervals
  // [0, 1/T) -> 1, [1/T, 2/T) -> 3, [2/T, 1) -> 2 with T = 2 + e^-1.
  const double total = 2.0 + std::exp(-1.0);
  EXPECT_EQ(draw(logits, 1.f, 3, 1.f, 0.0), 1);
  EXPECT_EQ(draw(logits, 1.f, 3, 1.f, 1.0 / total - 1e-6), 1);
  EXPECT_EQ(draw(logits, 1.f, 3, 1.f, 1.0 / total + 1e-6), 3);
  EXPECT_EQ(draw(logits, 1.f, 3, 1.f, 2.0 / total - 1e-6), 3);
  EXPECT_EQ(draw(logits, 1.f, 3, 1.f, 2.0 / total + 1e-6), 2);
  // Had top_k 3 kept id 4 or 5 instead of id 2 the last interval would name them.
  EXPECT_EQ(draw(logits, 1.f, 3, 1.f, 0.95), 2);
}

TEST(CpuDrawToken, TopPKeepsTheShortestPrefixThatReachesIt) {
  // Four equal logits: weights 1 each, total 4, so the prefix sums 1, 2, 3, 4
  // are exact and top_p * 4 can land exactly on one of them.
  const std::vector<float> equal = {0.5f, 0.5f, 0.5f, 0.5f};
  EXPECT_EQ(draw(equal, 1.f, 0, 0.5f, kAlmostOne), 1) << "2 of 4 reaches 0.5 exactly: two candidates";
  EXPECT_EQ(draw(equal, 1.f, 0, 0.75f, kAlmostOne), 2) << "3 of 4 reaches 0.75 exactly: three candidates";
  EXPECT_EQ(draw(equal, 1.f, 0, 0.25f, kAlmostOne), 0);
  EXPECT_EQ(draw(equal, 1.f, 0, 0.5001f, kAlmostOne), 2) << "just past 0.5 needs a third candidate";
  EXPECT_EQ(draw(equal, 1.f, 0, 0.4999f, kAlmostOne), 1);
  EXPECT_EQ(draw(equal, 1.f, 0, 0.05f, kAlmostOne), 0);
  EXPECT_EQ(draw(equal, 1.f, 0, 1.f, kAlmostOne), 3);
  // Within the two kept candidates the draw splits [0, 1) in halves.
  EXPECT_EQ(draw(equal, 1.f, 0, 0.5f, 0.49), 0);
  EXPECT_EQ(draw(equal, 1.f, 0, 0.5f, 0.51), 1);

  // Probabilities 1/T, e^-1/T, e^-2/T (T = 1 + e^-1 + e^-2) = 0.665, 0.245, 0.090
  // for ids 2, 0, 1.
  const std::vector<float> logits = {1.f, 0.f, 2.f};
  const double total = 1.0 + std::exp(-1.0) + std::exp(-2.0);
  const double p_first = 1.0 / total, p_two = (1.0 + std::exp(-1.0)) / total;
  EXPECT_EQ(draw(logits, 1.f, 0, float(p_first - 1e-3), kAlmostOne), 2);
  EXPECT_EQ(draw(logits, 1.f, 0, float(p_first + 1e-3), kAlmostOne), 0);
  EXPECT_EQ(draw(logits, 1.f, 0, float(p_two - 1e-3), kAlmostOne), 0);
  EXPECT_EQ(draw(logits, 1.f, 0, float(p_two + 1e-3), kAlmostOne), 1);
}

TEST(CpuDrawToken, TopPIsTakenOverTheTopKCandidates) {
  // Six equal logits, top_k 4: the nucleus 0.5 is 2 of the 4 kept (not 3 of
  // all 6), and the draw then splits between those 2.
  const std::vector<float> logits(6, 1.f);
  EXPECT_EQ(draw(logits, 1.f, 4, 0.5f, kAlmostOne), 1);
  EXPECT_EQ(draw(logits, 1.f, 4, 0.75f, kAlmostOne), 2);
  EXPECT_EQ(draw(logits, 1.f, 4, 1.f, kAlmostOne), 3);
  EXPECT_EQ(draw(logits, 1.f, 0, 0.5f, kAlmostOne), 2);  // without top_k: 3 of 6
}

TEST(CpuDrawToken, InverseCdfOverTheCandidateOrder) {
  // Candidate order: id1 (2), id2 (1), id0 (0) with weights 1, e^-1, e^-2.
  const std::vector<float> logits = {0.f, 2.f, 1.f};
  const double total = 1.0 + std::exp(-1.0) + std::exp(-2.0);
  const double b1 = 1.0 / total;                     // ~0.665: id1 below
  const double b2 = (1.0 + std::exp(-1.0)) / total;  // ~0.910: id2 below, id0 above
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, 0.0), 1) << "uniform 0: the most likely candidate";
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, b1 / 2), 1);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, b1 - 1e-6), 1);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, b1 + 1e-6), 2);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, (b1 + b2) / 2), 2);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, b2 - 1e-6), 2);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, b2 + 1e-6), 0);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, kAlmostOne), 0) << "just below 1: the last kept candidate";
  EXPECT_EQ(draw(logits, 1.f, 2, 1.f, kAlmostOne), 2) << "top_k 2: id2 is the last kept";

  // Four equal weights: the intervals are [0, .25) -> 0, [.25, .5) -> 1,
  // [.5, .75) -> 2, [.75, 1) -> 3, and these uniforms land exactly on their
  // starts (the running sum must exceed the target, not just reach it).
  const std::vector<float> equal = {-1.f, -1.f, -1.f, -1.f};
  EXPECT_EQ(draw(equal, 1.f, 0, 1.f, 0.25), 1);
  EXPECT_EQ(draw(equal, 1.f, 0, 1.f, 0.5), 2);
  EXPECT_EQ(draw(equal, 1.f, 0, 1.f, 0.75), 3);
  EXPECT_EQ(draw(equal, 1.f, 0, 1.f, 0.7499), 2);

  // Equal top logits: uniform 0 takes the lowest id among them.
  EXPECT_EQ(draw({1.f, 4.f, 4.f, 4.f}, 1.f, 0, 1.f, 0.0), 1);
  // -inf logits weigh nothing: never drawn while a finite one is left.
  EXPECT_EQ(draw({-kInf, 1.f, 3.f}, 1.f, 0, 1.f, 0.0), 2);
  EXPECT_EQ(draw({-kInf, 1.f, -kInf, 3.f, -kInf}, 1.f, 0, 1.f, kAlmostOne), 1);
  // Rounding that leaves no candidate above the target gives the last kept
  // one: exact weights with uniform 1 reach the total and never exceed it.
  EXPECT_EQ(draw({2.f, 2.f, 2.f}, 1.f, 0, 1.f, 1.0), 2);
  EXPECT_EQ(draw({2.f, 2.f, 2.f}, 1.f, 2, 1.f, 1.0), 1);
}

TEST(CpuDrawToken, TemperatureScalesTheLogits) {
  // Two tokens {0, 1}: id1 is drawn below 1 / (1 + e^(-1/t)), id0 above:
  // t = 0.5: 0.881, t = 1: 0.731, t = 2: 0.622.
  const std::vector<float> logits = {0.f, 1.f};
  for (float t : {0.25f, 0.5f, 1.f, 2.f, 10.f}) {
    const double boundary = 1.0 / (1.0 + std::exp(-1.0 / t));
    EXPECT_EQ(draw(logits, t, 0, 1.f, boundary - 1e-4), 1) << "temperature " << t;
    EXPECT_EQ(draw(logits, t, 0, 1.f, boundary + 1e-4), 0) << "temperature " << t;
  }
  EXPECT_EQ(draw(logits, 0.5f, 0, 1.f, 0.8), 1);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, 0.8), 0);
  EXPECT_EQ(draw(logits, 1.f, 0, 1.f, 0.7), 1);
  EXPECT_EQ(draw(logits, 2.f, 0, 1.f, 0.7), 0);
  // A tiny temperature is greedy in all but name: the runner-up weighs e^-1000 = 0.
  EXPECT_EQ(draw(logits, 1e-3f, 0, 1.f, kAlmostOne), 1);
  // Temperature also moves the top-p nucleus: at t = 1 id1 alone (0.731)
  // reaches 0.7; at t = 2 (0.622) it does not.
  EXPECT_EQ(draw(logits, 1.f, 0, 0.7f, kAlmostOne), 1);
  EXPECT_EQ(draw(logits, 2.f, 0, 0.7f, kAlmostOne), 0);
}

TEST(CpuDrawToken, SingleTokenVocabulary) {
  const std::vector<float> one = {3.5f};
  EXPECT_EQ(draw(one, 0.f, 0, 1.f, 0.0), 0);
  for (float t : {0.3f, 1.f, 4.f})
    for (int64_t top_k : {0, 1, 5})
      for (float top_p : {0.05f, 0.5f, 1.f})
        for (double uniform : {0.0, 0.5, kAlmostOne})
          EXPECT_EQ(draw(one, t, top_k, top_p, uniform), 0) << t << " " << top_k << " " << top_p << " " << uniform;
}

TEST(CpuDrawToken, ScratchIsReusedAcrossRowsOfDifferentSizes) {
  std::vector<std::pair<float, int32_t>> scratch;
  const std::vector<float> big = {0.f, 2.f, 1.f, 5.f, 4.f, 3.f};
  const std::vector<float> small = {1.f, 0.f};
  EXPECT_EQ(cpu::draw_token(big, TokenDraw{1.f, 3, 1.f, kAlmostOne}, scratch), 5);
  EXPECT_EQ(cpu::draw_token(small, TokenDraw{1.f, 0, 1.f, kAlmostOne}, scratch), 1);
  EXPECT_EQ(cpu::draw_token(big, TokenDraw{1.f, 0, 1.f, kAlmostOne}, scratch), 0);
}

TEST(CpuArgmax, MatchesMaxElementOnLongRowsWithTailsTiesAndNans) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small(-3, 3);  // many ties, in every lane
  for (size_t n = 1; n <= 70; ++n)
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> row(n);
      for (float& value : row) value = float(small(rng));
      if (trial % 4 == 1) row[rng() % n] = std::numeric_limits<float>::quiet_NaN();
      if (trial % 4 == 2) std::fill(row.begin(), row.end(), -kInf);
      const auto expected = std::max_element(row.begin(), row.end()) - row.begin();
      EXPECT_EQ(cpu::argmax(row), expected) << "length " << n << " trial " << trial;
    }
  std::vector<float> nan_first = {std::numeric_limits<float>::quiet_NaN(), 1.f, 2.f};
  EXPECT_EQ(cpu::argmax(nan_first), 0) << "std::max_element's rule: a leading NaN is never replaced";
}

// TokenDraw's definition run literally: every candidate sorted, weights and
// totals summed in candidate order.
int32_t draw_by_full_sort(const std::vector<float>& logits, const TokenDraw& d) {
  std::vector<std::pair<float, int32_t>> order;
  for (size_t i = 0; i < logits.size(); ++i) order.push_back({logits[i] / d.temperature, int32_t(i)});
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  if (d.top_k > 0 && size_t(d.top_k) < order.size()) order.resize(size_t(d.top_k));
  std::vector<double> weight;
  double total = 0;
  for (const auto& candidate : order) {
    weight.push_back(std::exp(candidate.first - order.front().first));
    total += weight.back();
  }
  size_t kept = order.size();
  if (d.top_p < 1.f) {
    double cumulative = 0;
    for (kept = 0; kept < order.size();) {
      cumulative += weight[kept++];
      if (cumulative >= double(d.top_p) * total) break;
    }
    total = cumulative;
  }
  double cumulative = 0;
  for (size_t n = 0; n < kept; ++n) {
    cumulative += weight[n];
    if (cumulative > d.uniform * total) return order[n].second;
  }
  return order[kept - 1].second;
}

TEST(CpuDrawToken, LongRowsDrawWhatAFullSortDraws) {
  // Rows long enough that the draw orders its candidates block by block
  // (64, then doubling), with top_k on both sides of the partial-sort limit:
  // flat rows walk deep into the order, peaked ones stop in the first block.
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_int_distribution<int> levels(0, 40);
  constexpr size_t kVocab = 5000;
  for (int shape = 0; shape < 3; ++shape) {
    std::vector<float> logits(kVocab);
    for (float& z : logits) z = shape == 0 ? 0.05f * normal(rng) : shape == 1 ? 2.f * normal(rng) : float(levels(rng)) * 0.1f;
    if (shape == 1)
      for (int k = 0; k < 5; ++k) logits[size_t(rng() % kVocab)] += 12.f;
    logits[17] = -kInf;
    for (float temperature : {0.5f, 1.f, 3.f})
      for (int64_t top_k : {0, 1, 40, 64, 65, 1500, 4999, 6000})
        for (float top_p : {0.3f, 0.9f, 0.999f, 1.f})
          for (double uniform : {0.0, 0.37, 0.9999, kAlmostOne}) {
            const TokenDraw d{temperature, top_k, top_p, uniform};
            EXPECT_EQ(draw(logits, temperature, top_k, top_p, uniform), draw_by_full_sort(logits, d))
                << "shape " << shape << " t " << temperature << " top_k " << top_k << " top_p " << top_p << " u "
                << uniform;
          }
  }
}

TEST(CpuBackendSampleTokens, ManyRowsInParallelDrawEachRowsToken) {
  // 16 rows of 32000: the backend splits the rows across threads, each with
  // its own scratch; every row must still get its own draw's token.
  constexpr int64_t kRows = 16, kVocab = 32000;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 2.f);
  std::vector<float> logits(size_t(kRows * kVocab));
  for (float& z : logits) z = normal(rng);
  std::vector<TokenDraw> draws;
  for (int64_t r = 0; r < kRows; ++r)
    draws.push_back(r % 4 == 0 ? TokenDraw{} : TokenDraw{0.7f + 0.1f * float(r % 3), r % 2 ? 0 : 50, r % 5 ? 1.f : 0.9f,
                                                        double(r) / double(kRows)});
  std::vector<int32_t> tokens(size_t(kRows), -1);
  auto backend = make_cpu_backend(2);
  backend->sample_tokens(logits.data(), kRows, kVocab, draws, tokens.data());
  std::vector<std::pair<float, int32_t>> scratch;
  for (int64_t r = 0; r < kRows; ++r) {
    const std::span<const float> row(logits.data() + r * kVocab, size_t(kVocab));
    EXPECT_EQ(tokens[size_t(r)], cpu::draw_token(row, draws[size_t(r)], scratch)) << "row " << r;
  }
}

const std::vector<float> kRow = {1.0f, 3.0f, 2.5f, -1.0f, 2.9f, 0.0f, 2.9f};

TEST(SamplerDraws, SampleIsDrawTokenWithTheSeededUniforms) {
  for (const SamplingParams params : {SamplingParams{1.0f, 0, 1.0f, 42}, SamplingParams{0.7f, 3, 1.0f, 7},
                                      SamplingParams{1.3f, 0, 0.8f, 9}, SamplingParams{0.9f, 4, 0.9f, 12345}}) {
    Sampler sampling(params), drawing(params);
    std::vector<std::pair<float, int32_t>> scratch;
    std::set<int32_t> seen;
    for (int i = 0; i < 200; ++i) {
      const TokenDraw next = drawing.next_draw();
      EXPECT_EQ(next.temperature, params.temperature);
      EXPECT_EQ(next.top_k, params.top_k);
      EXPECT_EQ(next.top_p, params.top_p);
      EXPECT_GE(next.uniform, 0.0);
      EXPECT_LT(next.uniform, 1.0);
      const int32_t token = cpu::draw_token(kRow, sampling.next_draw(), scratch);
      EXPECT_EQ(token, cpu::draw_token(kRow, next, scratch)) << "step " << i << " seed " << params.seed;
      seen.insert(token);
    }
    EXPECT_GT(seen.size(), 1u) << "seed " << params.seed << ": the draws should not all pick one token";
  }
}

TEST(SamplerDraws, TemperaturesBelowTheFloorDrawGreedily) {
  // 1 / 1e-38 overflows the logits to infinity; such temperatures, and any
  // below kMinSampledTemperature, are greedy draws without a random number.
  for (float temperature : {1e-38f, 1e-30f, 1e-6f, 0.99f * kMinSampledTemperature}) {
    Sampler sampler(SamplingParams{temperature, 3, 0.9f, 5});
    const TokenDraw next = sampler.next_draw();
    EXPECT_EQ(next.temperature, 0.f) << temperature;
    EXPECT_EQ(next.uniform, 0.0) << temperature;
  }
  Sampler at_floor(SamplingParams{kMinSampledTemperature, 0, 1.f, 5});
  EXPECT_EQ(at_floor.next_draw().temperature, kMinSampledTemperature);
}

TEST(SamplerDraws, EachSampledStepTakesOneNumberOfTheSeededStream) {
  const SamplingParams params{0.8f, 40, 0.9f, 2024};
  Sampler sampler(params);
  std::mt19937_64 stream(params.seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sampler.next_draw().uniform, uniform(stream)) << "step " << i;
  // Different seeds give different streams.
  Sampler other(SamplingParams{0.8f, 40, 0.9f, 2025});
  Sampler same(params);
  EXPECT_NE(other.next_draw().uniform, same.next_draw().uniform);
}

TEST(SamplerDraws, GreedyDrawsTakeNoRandomNumbers) {
  const SamplingParams params{0.f, 5, 0.5f, 99};
  Sampler sampler(params);
  std::vector<std::pair<float, int32_t>> scratch;
  for (int i = 0; i < 10; ++i) {
    const TokenDraw next = sampler.next_draw();
    EXPECT_EQ(next.temperature, 0.f);
    EXPECT_EQ(next.uniform, 0.0) << "a greedy draw carries no random number";
    EXPECT_EQ(cpu::draw_token(kRow, next, scratch), 1);
  }
  // Each sampler has its own stream: greedy draws of one request in a batch
  // leave another request's uniforms as its seed alone gives them.
  Sampler sampled(SamplingParams{1.f, 0, 1.f, 99}), reference(SamplingParams{1.f, 0, 1.f, 99});
  for (int i = 0; i < 20; ++i) {
    sampler.next_draw();
    EXPECT_EQ(sampled.next_draw().uniform, reference.next_draw().uniform);
  }
}

}  // namespace
}  // namespace slkv
