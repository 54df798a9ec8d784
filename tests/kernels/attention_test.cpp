// CPU attention against a double-precision softmax reference: KV split into
// spans (boundaries inside the sequence, empty spans), GQA, queries after a
// cached prefix, odd head sizes, the lse output, and 1 vs 2 threads.
#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/backend.h"

namespace slkv {
namespace {

struct Case {
  int64_t n_queries;
  std::vector<int64_t> span_tokens;  // keys per span, in order
  int64_t n_heads, n_kv_heads, head_dim;
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
  os << "queries " << c.n_queries << " spans {";
  for (int64_t n : c.span_tokens) os << n << " ";
  return os << "} heads " << c.n_heads << "/" << c.n_kv_heads << " head_dim " << c.head_dim;
}

struct Inputs {
  std::vector<std::vector<float>> keys, values;  // per span
  std::vector<KvSpan> spans;
  std::vector<float> q;
  int64_t total = 0;
};

Inputs make_inputs(const Case& c, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  Inputs in;
  for (int64_t n : c.span_tokens) {
    const size_t size = size_t(n * c.n_kv_heads * c.head_dim);
    std::vector<float> k(size), v(size);
    for (float& x : k) x = dist(rng);
    for (float& x : v) x = dist(rng);
    in.keys.push_back(std::move(k));
    in.values.push_back(std::move(v));
    in.total += n;
  }
  for (size_t s = 0; s < c.span_tokens.size(); ++s)
    in.spans.push_back({in.keys[s].data(), in.values[s].data(), c.span_tokens[s]});
  in.q.resize(size_t(c.n_queries * c.n_heads * c.head_dim));
  for (float& x : in.q) x = dist(rng);
  return in;
}

// Straight softmax over the visible keys, in double.
void reference(const Case& c, const Inputs& in, float scale, std::vector<double>& out, std::vector<double>& lse) {
  // Flatten the spans into one [total][n_kv_heads][head_dim] sequence.
  std::vector<float> keys, values;
  for (size_t s = 0; s < in.keys.size(); ++s) {
    keys.insert(keys.end(), in.keys[s].begin(), in.keys[s].end());
    values.insert(values.end(), in.values[s].begin(), in.values[s].end());
  }
  const int64_t d = c.head_dim, group = c.n_heads / c.n_kv_heads;
  out.assign(size_t(c.n_queries * c.n_heads * d), 0.0);
  lse.assign(size_t(c.n_queries * c.n_heads), 0.0);
  for (int64_t i = 0; i < c.n_queries; ++i) {
    const int64_t visible = in.total - c.n_queries + i + 1;
    for (int64_t h = 0; h < c.n_heads; ++h) {
      const float* q = in.q.data() + (i * c.n_heads + h) * d;
      const int64_t g = h / group;
      std::vector<double> scores(static_cast<size_t>(visible));
      double max_score = -INFINITY;
      for (int64_t j = 0; j < visible; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < d; ++e) dot += double(q[e]) * keys[size_t((j * c.n_kv_heads + g) * d + e)];
        scores[j] = dot * scale;
        max_score = std::max(max_score, scores[j]);
      }
      double sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - max_score));
      double* o = out.data() + (i * c.n_heads + h) * d;
      for (int64_t j = 0; j < visible; ++j)
        for (int64_t e = 0; e < d; ++e) o[e] += scores[j] / sum * values[size_t((j * c.n_kv_heads + g) * d + e)];
      lse[i * c.n_heads + h] = max_score + std::log(sum);
    }
  }
}

void check_case(const Case& c) {
  SCOPED_TRACE(::testing::Message() << c);
  std::mt19937 rng(42);
  const Inputs in = make_inputs(c, rng);
  const AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, float(1.0 / std::sqrt(double(c.head_dim)))};
  std::vector<double> want_out, want_lse;
  reference(c, in, shape.scale, want_out, want_lse);

  std::vector<float> results[2];
  for (int threads : {1, 2}) {
    std::vector<float> out(want_out.size(), NAN), lse(want_lse.size(), NAN);
    cpu::attention(in.q.data(), c.n_queries, in.spans, shape, out.data(), lse.data(), threads);
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_NEAR(out[i], want_out[i], 2e-5) << "out " << i << " threads " << threads;
    for (size_t i = 0; i < lse.size(); ++i)
      ASSERT_NEAR(lse[i], want_lse[i], 2e-5 * (1 + std::abs(want_lse[i]))) << "lse " << i << " threads " << threads;
    results[threads - 1] = out;
    // lse is optional: the output must not depend on asking for it.
    std::vector<float> out_no_lse(out.size());
    cpu::attention(in.q.data(), c.n_queries, in.spans, shape, out_no_lse.data(), nullptr, threads);
    ASSERT_EQ(out_no_lse, out);
  }
  for (size_t i = 0; i < results[0].size(); ++i) ASSERT_NEAR(results[0][i], results[1][i], 1e-6);
}

TEST(AttentionTest, DecodeOverSpans) { check_case({1, {20, 17}, 4, 2, 64}); }
TEST(AttentionTest, DecodeSingleKey) { check_case({1, {1}, 2, 1, 16}); }
TEST(AttentionTest, DecodeLongCacheParallel) { check_case({1, {1000, 500, 1}, 8, 2, 128}); }
// Decode items take up to 16 query heads of a row, whole kv-head groups where
// they fit; larger groups split (an item may then start inside one group and
// end in the next), and items shrink when there would be fewer than threads.
// Key counts around the kernel's 32-128-key blocks, across spans.
TEST(AttentionTest, DecodeGroupsSplitAcrossItems) {
  check_case({1, {300}, 16, 1, 64});
  check_case({1, {200}, 40, 2, 32});
  check_case({2, {50}, 48, 8, 64});
  check_case({1, {100}, 6, 1, 32});
  check_case({2, {3}, 12, 1, 64});
  check_case({1, {129, 63, 1}, 10, 2, 100});
  check_case({1, {127, 33}, 24, 2, 16});
  check_case({3, {65, 64}, 9, 3, 200});
}
TEST(AttentionTest, PrefillOneSpan) { check_case({50, {50}, 8, 8, 128}); }
TEST(AttentionTest, PrefillAfterCachedPrefix) { check_case({13, {30, 1, 56, 13}, 6, 2, 40}); }
TEST(AttentionTest, NewTokensShareASpanWithCache) { check_case({10, {40, 0, 25}, 4, 4, 64}); }
TEST(AttentionTest, NewTokensAcrossSpans) { check_case({30, {7, 20, 19}, 4, 1, 32}); }
TEST(AttentionTest, LargePrefillGqaThreaded) { check_case({64, {100, 200}, 8, 4, 64}); }
TEST(AttentionTest, OddHeadDims) {
  for (int64_t head_dim : {1, 8, 17, 24, 100, 255}) check_case({5, {9, 12}, 4, 2, head_dim});
}
// Below kQueryTile queries (the per-pair kernel) and at and above it (the
// tiled one), with partial last tiles and slices.
TEST(AttentionTest, BothKernelsAroundTheTileSize) {
  for (int64_t n : {7, 8, 9, 33, 40}) check_case({n, {n + 5}, 6, 3, 48});
}
// More keys than one gathered chunk (1024), in fragmented spans of odd sizes.
TEST(AttentionTest, PrefillChunkAcrossManyKeyChunks) { check_case({100, {700, 16, 1, 900, 300, 13}, 4, 2, 64}); }
TEST(AttentionTest, PrefillHeadDim128LongPrompt) { check_case({300, {1200}, 4, 1, 128}); }
TEST(AttentionTest, HeadDim256) { check_case({9, {33, 9}, 2, 1, 256}); }

TEST(AttentionTest, LargeScoresStayFinite) {
  // Scores far from 0 exercise the running-max rescaling.
  const Case c{3, {40}, 2, 1, 16};
  std::mt19937 rng(5);
  const Inputs in = make_inputs(c, rng);
  const AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, 30.f};
  std::vector<double> want_out, want_lse;
  reference(c, in, shape.scale, want_out, want_lse);
  std::vector<float> out(want_out.size()), lse(want_lse.size());
  cpu::attention(in.q.data(), c.n_queries, in.spans, shape, out.data(), lse.data(), 1);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want_out[i], 1e-4);
  for (size_t i = 0; i < lse.size(); ++i) ASSERT_NEAR(lse[i], want_lse[i], 1e-4 * std::abs(want_lse[i]));
}

TEST(AttentionTest, RejectsBadShapes) {
  std::vector<float> q(64), out(64), kv(64);
  const KvSpan span{kv.data(), kv.data(), 1};
  EXPECT_ANY_THROW(cpu::attention(q.data(), 2, std::span(&span, 1), {1, 1, 16, 1.f}, out.data(), nullptr, 1));
  EXPECT_ANY_THROW(cpu::attention(q.data(), 1, std::span(&span, 1), {3, 2, 16, 1.f}, out.data(), nullptr, 1));
  EXPECT_ANY_THROW(cpu::attention(q.data(), 1, std::span(&span, 1), {1, 1, 512, 1.f}, out.data(), nullptr, 1));
}

TEST(AttentionTest, ThroughBackend) {
  const Case c{4, {10, 6}, 4, 2, 32};
  std::mt19937 rng(8);
  const Inputs in = make_inputs(c, rng);
  const AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, 0.2f};
  std::vector<double> want_out, want_lse;
  reference(c, in, shape.scale, want_out, want_lse);
  std::vector<float> out(want_out.size());
  make_cpu_backend(2)->attention(in.q.data(), c.n_queries, in.spans, shape, out.data(), nullptr);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want_out[i], 2e-5);
}

// A batch of sequences with their own KV (decode rows of different context
// lengths, a two-query row and a prompt chunk) gives each job what attention()
// alone gives it, with one or two threads and through the backend.
TEST(AttentionTest, BatchEqualsJobByJob) {
  const std::vector<Case> cases = {{1, {300}, 8, 2, 64},     {1, {5, 17}, 8, 2, 64}, {2, {40}, 8, 2, 64},
                                   {20, {10, 20}, 8, 2, 64}, {1, {1}, 8, 2, 64},     {1, {700}, 8, 2, 64}};
  std::mt19937 rng(21);
  std::vector<Inputs> inputs;
  for (const Case& c : cases) inputs.push_back(make_inputs(c, rng));
  const AttentionShape shape{8, 2, 64, 0.125f};
  for (int threads : {1, 2}) {
    std::vector<std::vector<float>> alone_out, alone_lse, batch_out, batch_lse;
    std::vector<AttentionJob> jobs;
    for (size_t i = 0; i < cases.size(); ++i) {
      const size_t rows = size_t(cases[i].n_queries * shape.n_heads);
      alone_out.emplace_back(rows * 64);
      alone_lse.emplace_back(rows);
      batch_out.emplace_back(rows * 64, NAN);
      batch_lse.emplace_back(rows, NAN);
      cpu::attention(inputs[i].q.data(), cases[i].n_queries, inputs[i].spans, shape, alone_out[i].data(),
                     alone_lse[i].data(), threads);
      jobs.push_back(
          {inputs[i].q.data(), cases[i].n_queries, inputs[i].spans, batch_out[i].data(), batch_lse[i].data()});
    }
    cpu::attention_batch(jobs, shape, threads);
    for (size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(batch_out[i], alone_out[i]) << "job " << i << " threads " << threads;
      EXPECT_EQ(batch_lse[i], alone_lse[i]) << "job " << i << " threads " << threads;
    }
    for (auto& out : batch_out) std::fill(out.begin(), out.end(), NAN);
    make_cpu_backend(threads)->attention_batch(jobs, shape);
    for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(batch_out[i], alone_out[i]) << "backend, job " << i;
  }
}

}  // namespace
}  // namespace slkv
