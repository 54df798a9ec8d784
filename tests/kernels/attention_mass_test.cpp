// window_attention_mass and key_attention_mass against a double-precision
// softmax reference, with the lse taken from the CPU attention kernel.
#include "kernels/cpu/attention_mass.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"

namespace slkv {
namespace {

struct MassCase {
  int64_t n_heads, n_kv_heads, head_dim;
  std::vector<int64_t> span_tokens;
  int64_t n_queries;  // the last n_queries keys are the queries' own
  std::vector<std::vector<float>> keys, values;
  std::vector<KvSpan> spans;
  std::vector<float> q, lse;
  std::vector<float> all_keys;  // spans concatenated
  int64_t total = 0;
  AttentionShape shape;

  MassCase(int64_t heads, int64_t kv_heads, int64_t dim, std::vector<int64_t> tokens, int64_t queries)
      : n_heads(heads), n_kv_heads(kv_heads), head_dim(dim), span_tokens(std::move(tokens)), n_queries(queries) {
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.f, 1.f);
    for (int64_t n : span_tokens) {
      std::vector<float> k(size_t(n * n_kv_heads * head_dim)), v(k.size());
      for (float& x : k) x = dist(rng);
      for (float& x : v) x = dist(rng);
      all_keys.insert(all_keys.end(), k.begin(), k.end());
      keys.push_back(std::move(k));
      values.push_back(std::move(v));
      total += n;
    }
    for (size_t s = 0; s < span_tokens.size(); ++s) spans.push_back({keys[s].data(), values[s].data(), span_tokens[s]});
    q.resize(size_t(n_queries * n_heads * head_dim));
    for (float& x : q) x = dist(rng);
    shape = {n_heads, n_kv_heads, head_dim, float(1.0 / std::sqrt(double(head_dim)))};
    std::vector<float> out(q.size());
    lse.resize(size_t(n_queries * n_heads));
    cpu::attention(q.data(), n_queries, spans, shape, out.data(), lse.data(), 1);
  }

  int64_t first_query_key() const { return total - n_queries; }

  // Probabilities query i, head h puts on every key (double softmax; 0 past
  // the visible ones).
  std::vector<double> probabilities(int64_t i, int64_t h) const {
    const int64_t visible = first_query_key() + i + 1;
    const int64_t g = h / (n_heads / n_kv_heads);
    auto score = [&](int64_t key) {
      double dot = 0;
      for (int64_t e = 0; e < head_dim; ++e)
        dot += double(q[size_t((i * n_heads + h) * head_dim + e)]) *
               all_keys[size_t((key * n_kv_heads + g) * head_dim + e)];
      return dot * shape.scale;
    };
    std::vector<double> p(static_cast<size_t>(total), 0.0);
    double max_score = -INFINITY, sum = 0;
    for (int64_t k = 0; k < visible; ++k) max_score = std::max(max_score, p[k] = score(k));
    for (int64_t k = 0; k < visible; ++k) sum += (p[k] = std::exp(p[k] - max_score));
    for (int64_t k = 0; k < visible; ++k) p[k] /= sum;
    return p;
  }
};

void check_window(const MassCase& s, int64_t sink, int64_t recent) {
  double want = 0;
  for (int64_t i = 0; i < s.n_queries; ++i) {
    const int64_t visible = s.first_query_key() + i + 1;
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const std::vector<double> p = s.probabilities(i, h);
      for (int64_t j = 0; j < visible; ++j)
        if (j < sink || j >= visible - recent) want += p[j];
    }
  }
  for (int threads : {1, 2}) {
    const double got = cpu::window_attention_mass(s.q.data(), s.n_queries, s.first_query_key(), s.lse.data(), s.spans,
                                                  s.shape, sink, recent, threads);
    EXPECT_NEAR(got, want, 1e-5 * (1 + want)) << "sink " << sink << " recent " << recent << " threads " << threads;
  }
}

TEST(WindowAttentionMassTest, MatchesReference) {
  const MassCase s(4, 2, 40, {30, 1, 45}, 20);
  check_window(s, 4, 8);
  check_window(s, 0, 1);      // only the query's own key
  check_window(s, 60, 30);    // windows overlap: keys counted once
  check_window(s, 100, 100);  // everything visible: mass 1 per (query, head)
}

TEST(WindowAttentionMassTest, FullWindowsSumToOnePerPair) {
  const MassCase s(2, 1, 16, {10, 10}, 5);
  const double mass = cpu::window_attention_mass(s.q.data(), s.n_queries, s.first_query_key(), s.lse.data(), s.spans,
                                                 s.shape, 1000, 1000, 1);
  EXPECT_NEAR(mass, double(s.n_queries * s.n_heads), 1e-4);
}

TEST(KeyAttentionMassTest, MatchesReference) {
  // 600 keys: several key blocks, and enough work for 2 threads.
  const MassCase s(8, 2, 64, {250, 0, 300, 50}, 32);
  const int64_t group = s.n_heads / s.n_kv_heads;
  std::vector<double> want(size_t(s.n_kv_heads * s.total), 0.0);
  for (int64_t i = 0; i < s.n_queries; ++i)
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const std::vector<double> p = s.probabilities(i, h);
      for (int64_t j = 0; j < s.total; ++j) want[size_t(h / group * s.total + j)] += p[j];
    }
  for (int threads : {1, 2}) {
    std::vector<float> mass(want.size(), 0.5f);  // accumulates onto what is there
    cpu::key_attention_mass(s.q.data(), s.n_queries, s.first_query_key(), s.lse.data(), s.spans, s.shape, mass.data(),
                            threads);
    for (size_t k = 0; k < mass.size(); ++k)
      ASSERT_NEAR(mass[k], want[k] + 0.5, 1e-5 * (1 + want[k])) << "entry " << k << " threads " << threads;
  }
}

TEST(KeyAttentionMassTest, RejectsQueriesBeyondKeys) {
  const MassCase s(2, 1, 16, {10}, 2);
  std::vector<float> mass(20);
  EXPECT_ANY_THROW(cpu::key_attention_mass(s.q.data(), 2, 9, s.lse.data(), s.spans, s.shape, mass.data(), 1));
}

}  // namespace
}  // namespace slkv
