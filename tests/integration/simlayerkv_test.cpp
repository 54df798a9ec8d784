// SimLayerKV and the baselines on the real stories260K model: equivalences
// that must hold exactly, scores against a brute-force softmax, kept KV
// against the full cache, accounting, batching.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "kernels/backend.h"
#include "core/error.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/run_to_completion.h"
#include "runtime/kv/kv_policy.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/stories_fixture.h"
#include "tests/test_support.h"
#include "kernels/cpu/sampling.h"

namespace slkv {
namespace {

using testing::kStory;
using Fixture = testing::StoriesFixture;

KvPolicyConfig policy(KvPolicyKind kind, double threshold = 0.65, int64_t sink = 4, int64_t recent = 24) {
  KvPolicyConfig config;
  config.kind = kind;
  config.threshold = threshold;
  config.sink = sink;
  config.recent = recent;
  config.obs_window = 8;
  config.snapkv_budget = 24;
  return config;
}

struct PolicyRun {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<float>> logits;  // per request: every sampled row, concatenated
  std::vector<KvReport> kv;
};

PolicyRun generate(Fixture& f, const std::vector<std::string>& prompts, const KvPolicyConfig& config,
                   int64_t new_tokens = 40) {
  std::vector<EngineRequest> requests;
  for (const auto& prompt : prompts) {
    EngineRequest request;
    request.prompt = f.tokenizer.encode(prompt, true);
    request.max_new_tokens = new_tokens;
    request.stop_ids = {2};
    requests.push_back(std::move(request));
  }
  EngineConfig engine_config;
  engine_config.kv_policy = config;
  Engine engine(*f.model, *f.backend, engine_config);
  PolicyRun run;
  run.logits.resize(prompts.size());
  engine.set_logits_callback([&](SequenceId id, std::span<const float> row) {
    run.logits[id].insert(run.logits[id].end(), row.begin(), row.end());  // ids are submission order
  });
  auto results = run_to_completion(engine, requests);
  for (auto& result : results) {
    run.tokens.push_back(result.tokens);
    run.kv.push_back(result.kv);
  }
  return run;
}

TEST(SimLayerKV, ThresholdAboveOneIsFull) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  PolicyRun full = generate(f, {kStory}, policy(KvPolicyKind::Full));
  PolicyRun lazy_none = generate(f, {kStory}, policy(KvPolicyKind::SimLayerKV, 1.5));
  EXPECT_EQ(lazy_none.tokens, full.tokens);
  EXPECT_EQ(lazy_none.logits, full.logits);  // bit-identical
  EXPECT_EQ(lazy_none.kv[0].compression_ratio, 1.0);
}

TEST(SimLayerKV, RecentCoveringTheContextIsFull) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  PolicyRun full = generate(f, {kStory}, policy(KvPolicyKind::Full));
  PolicyRun wide = generate(f, {kStory}, policy(KvPolicyKind::SimLayerKV, 0.0, 4, 512));
  EXPECT_EQ(wide.tokens, full.tokens);
  EXPECT_EQ(wide.logits, full.logits);
  for (bool lazy : wide.kv[0].lazy_layers) EXPECT_TRUE(lazy);  // every layer windowed, nothing dropped
}

TEST(SimLayerKV, ThresholdZeroIsStreaming) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  for (WindowGrowth growth : {WindowGrowth::Rolling, WindowGrowth::Grow}) {
    KvPolicyConfig lazy_all = policy(KvPolicyKind::SimLayerKV, 0.0), streaming = policy(KvPolicyKind::Streaming);
    lazy_all.growth = streaming.growth = growth;
    PolicyRun a = generate(f, {kStory}, lazy_all), b = generate(f, {kStory}, streaming);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.logits, b.logits);
    EXPECT_EQ(a.kv[0].kv_tokens_per_layer, b.kv[0].kv_tokens_per_layer);
  }
}

TEST(SimLayerKV, TrimmingChangesOutputAndSavesMemory) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  PolicyRun full = generate(f, {kStory}, policy(KvPolicyKind::Full));
  PolicyRun streaming = generate(f, {kStory}, policy(KvPolicyKind::Streaming, 0.65, 4, 8));
  EXPECT_NE(streaming.logits, full.logits);  // the windows really cut attention
  EXPECT_GT(streaming.kv[0].compression_ratio, 5.0);
}

// Scores every layer of `prompt` with a brute-force dense softmax (double).
class BruteForceScorer : public AttentionObserver {
 public:
  BruteForceScorer(AttentionObserver* inner, int64_t observed, int64_t sink, int64_t recent, int64_t layers)
      : inner_(inner), observed_(observed), sink_(sink), recent_(recent), mass_(layers, 0.0), count_(layers, 0) {}

  void observe(int64_t layer, const SequenceChunk& chunk, const float* queries, const float* lse, const KvCache& cache,
               const AttentionShape& shape) override {
    if (inner_) inner_->observe(layer, chunk, queries, lse, cache, shape);
    const int64_t n = static_cast<int64_t>(chunk.tokens.size());
    const int64_t held = cache.tokens_held(chunk.sequence, layer);
    const int64_t group = shape.n_heads / shape.n_kv_heads;
    for (int64_t i = n - std::min(observed_, n); i < n; ++i) {
      const int64_t self = held - n + i;
      for (int64_t head = 0; head < shape.n_heads; ++head) {
        const float* q = queries + (i * shape.n_heads + head) * shape.head_dim;
        std::vector<double> logits(self + 1);
        double max_logit = -1e300;
        for (int64_t key = 0; key <= self; ++key) {
          const float* k = cache.key_at(chunk.sequence, layer, key) + (head / group) * shape.head_dim;
          double dot = 0;
          for (int64_t d = 0; d < shape.head_dim; ++d) dot += double(q[d]) * k[d];
          logits[key] = dot * shape.scale;
          max_logit = std::max(max_logit, logits[key]);
        }
        double total = 0, window = 0;
        for (int64_t key = 0; key <= self; ++key) {
          double p = std::exp(logits[key] - max_logit);
          total += p;
          if (key < sink_ || key > self - recent_) window += p;  // union: counted once
        }
        mass_[layer] += window / total;
        count_[layer] += 1;
      }
    }
  }
  double score(int64_t layer) const { return mass_[layer] / count_[layer]; }

 private:
  AttentionObserver* inner_;
  int64_t observed_, sink_, recent_;
  std::vector<double> mass_;
  std::vector<int64_t> count_;
};

void expect_scores_match_brute_force(Fixture& f, const std::string& prompt, KvPolicyConfig config) {
  const std::vector<int32_t> tokens = f.tokenizer.encode(prompt, true);
  const int64_t layers = f.model->config().num_layers;
  KvCache cache(kv_geometry_for(f.model->config(), {static_cast<int64_t>(tokens.size()) + 2}), *f.backend);
  KvPolicy kv_policy(layers, *f.backend);
  SequenceId sequence = cache.add_sequence();
  kv_policy.add_sequence(sequence, config, static_cast<int64_t>(tokens.size()));
  std::vector<float> logits;
  SequenceChunk chunk{sequence, tokens, 0};
  std::unique_ptr<BruteForceScorer> brute;
  AttentionObserver* observer = &kv_policy;
  if (config.detect == LazyDetect::Prefill)
    brute = std::make_unique<BruteForceScorer>(observer, config.obs_window, config.sink, config.recent, layers);
  f.model->forward(std::span(&chunk, 1), cache, *f.backend, LogitsFor::LastToken, logits,
                   brute ? brute.get() : observer);
  kv_policy.after_pass(cache, std::span(&chunk, 1));
  if (config.detect == LazyDetect::Decode) {
    int32_t next = cpu::argmax(logits);
    SequenceChunk step{sequence, std::span<const int32_t>(&next, 1), static_cast<int64_t>(tokens.size())};
    brute = std::make_unique<BruteForceScorer>(observer, 1, config.sink, config.recent, layers);
    f.model->forward(std::span(&step, 1), cache, *f.backend, LogitsFor::LastToken, logits, brute.get());
    kv_policy.after_pass(cache, std::span(&step, 1));
  }
  LayerDecisions decisions = kv_policy.decisions(sequence);
  ASSERT_EQ(decisions.scores.size(), static_cast<size_t>(layers));
  for (int64_t layer = 0; layer < layers; ++layer) {
    EXPECT_NEAR(decisions.scores[layer], brute->score(layer), 1e-5) << "layer " << layer;
    EXPECT_EQ(decisions.lazy[layer], decisions.scores[layer] > config.threshold) << "layer " << layer;
  }
}

TEST(SimLayerKV, PrefillScoresEqualBruteForce) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  expect_scores_match_brute_force(f, kStory, policy(KvPolicyKind::SimLayerKV, 0.65, 4, 24));
  // Short prompt: the sink and recent windows overlap for every observed query.
  expect_scores_match_brute_force(f, "Once upon a time, there was a dog", policy(KvPolicyKind::SimLayerKV, 0.65, 4, 8));
}

TEST(SimLayerKV, DecodeScoresEqualBruteForce) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  KvPolicyConfig config = policy(KvPolicyKind::SimLayerKV, 0.65, 4, 24);
  config.detect = LazyDetect::Decode;
  expect_scores_match_brute_force(f, kStory, config);
  config.recent = 6;
  expect_scores_match_brute_force(f, "Zoo was a", config);  // overlap
}

TEST(SimLayerKV, KeptKvIsBitIdenticalToFullCache) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  const std::vector<int32_t> tokens = f.tokenizer.encode(kStory, true);
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t layers = f.model->config().num_layers;
  const int64_t floats = f.model->config().num_kv_heads * f.model->config().head_dim;
  KvCache full_cache(kv_geometry_for(f.model->config(), {n}), *f.backend), trimmed_cache(kv_geometry_for(f.model->config(), {n}), *f.backend);
  std::vector<float> logits;
  SequenceChunk full_chunk{full_cache.add_sequence(), tokens, 0};
  f.model->forward(std::span(&full_chunk, 1), full_cache, *f.backend, LogitsFor::LastToken, logits);
  KvPolicyConfig config = policy(KvPolicyKind::Streaming, 0.65, 4, 24);
  KvPolicy kv_policy(layers, *f.backend);
  SequenceChunk chunk{trimmed_cache.add_sequence(), tokens, 0};
  kv_policy.add_sequence(chunk.sequence, config, n);
  f.model->forward(std::span(&chunk, 1), trimmed_cache, *f.backend, LogitsFor::LastToken, logits, &kv_policy);
  kv_policy.after_pass(trimmed_cache, std::span(&chunk, 1));
  for (int64_t layer = 0; layer < layers; ++layer) {
    ASSERT_EQ(trimmed_cache.tokens_held(chunk.sequence, layer), 28);
    for (int64_t slot = 0; slot < 28; ++slot) {
      const int64_t position = slot < 4 ? slot : n - 24 + (slot - 4);
      EXPECT_EQ(0, std::memcmp(trimmed_cache.key_at(chunk.sequence, layer, slot),
                               full_cache.key_at(full_chunk.sequence, layer, position), floats * sizeof(float)));
      EXPECT_EQ(0, std::memcmp(trimmed_cache.value_at(chunk.sequence, layer, slot),
                               full_cache.value_at(full_chunk.sequence, layer, position), floats * sizeof(float)));
    }
  }
}

TEST(SimLayerKV, PoolAccountingAndCompressionRatio) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  const std::vector<int32_t> tokens = f.tokenizer.encode(kStory, true);
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t layers = f.model->config().num_layers;
  const int64_t block = 16, sink = 4, recent = 24;
  KvCache cache(kv_geometry_for(f.model->config(), {n}, block), *f.backend);
  // Threshold -1 makes every layer lazy: a known layout.
  KvPolicy kv_policy(layers, *f.backend);
  SequenceChunk chunk{cache.add_sequence(), tokens, 0};
  kv_policy.add_sequence(chunk.sequence, policy(KvPolicyKind::SimLayerKV, -1.0, sink, recent), n);
  std::vector<float> logits;
  f.model->forward(std::span(&chunk, 1), cache, *f.backend, LogitsFor::LastToken, logits, &kv_policy);
  const int64_t blocks_full = layers * ((n + block - 1) / block);
  EXPECT_EQ(cache.pool().blocks_in_use(), blocks_full);
  kv_policy.after_pass(cache, std::span(&chunk, 1));
  // Per layer: the sink's block plus the blocks from the one holding token n-recent to the last.
  const int64_t kept_per_layer = 1 + ((n - 1) / block - (n - recent) / block + 1);
  EXPECT_EQ(cache.pool().blocks_in_use(), layers * kept_per_layer);
  KvReport report = make_kv_report(cache, chunk.sequence, kv_policy);
  const int64_t bytes_per_token = 2 * f.model->config().num_kv_heads * f.model->config().head_dim * 4;
  EXPECT_EQ(report.kv_bytes, layers * (sink + recent) * bytes_per_token);
  EXPECT_EQ(report.kv_bytes_full, layers * n * bytes_per_token);
  EXPECT_DOUBLE_EQ(report.compression_ratio, double(n) / double(sink + recent));
  EXPECT_EQ(report.kv_blocks, layers * kept_per_layer);
}

TEST(SimLayerKV, MixedDecisionsCompressionRatio) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  PolicyRun run = generate(f, {kStory}, policy(KvPolicyKind::SimLayerKV, 0.65, 4, 24), 10);
  const KvReport& kv = run.kv[0];
  const int64_t n = static_cast<int64_t>(f.tokenizer.encode(kStory, true).size()) + 10 - 1;  // last token not fed
  int64_t expected_tokens = 0;
  for (size_t layer = 0; layer < kv.lazy_layers.size(); ++layer) {
    EXPECT_EQ(kv.kv_tokens_per_layer[layer], kv.lazy_layers[layer] ? 28 : n);
    expected_tokens += kv.kv_tokens_per_layer[layer];
  }
  EXPECT_NEAR(kv.compression_ratio, double(n * kv.lazy_layers.size()) / expected_tokens, 1e-12);
  std::set<bool> decisions(kv.lazy_layers.begin(), kv.lazy_layers.end());
  EXPECT_EQ(decisions.size(), 2u) << "this prompt and threshold should give both lazy and non-lazy layers";
}

TEST(SimLayerKV, BatchWithDifferentDecisionsMatchesAlone) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  const std::vector<std::string> prompts = {kStory, "Zoo", "Lily went to the park with her mom. She saw a big dog."};
  for (KvPolicyKind kind : {KvPolicyKind::SimLayerKV, KvPolicyKind::SnapKV, KvPolicyKind::SimLayerKVSnapKV}) {
    KvPolicyConfig config = policy(kind, 0.75, 2, 6);
    config.snapkv_budget = 6;
    config.obs_window = 4;
    PolicyRun batch = generate(f, prompts, config, 30);
    std::set<std::vector<bool>> distinct;
    for (size_t i = 0; i < prompts.size(); ++i) {
      PolicyRun alone = generate(f, {prompts[i]}, config, 30);
      EXPECT_EQ(batch.tokens[i], alone.tokens[0]) << kv_policy_name(kind) << " prompt " << i;
      EXPECT_EQ(batch.kv[i].lazy_layers, alone.kv[0].lazy_layers);
      EXPECT_EQ(batch.kv[i].kv_tokens_per_layer, alone.kv[0].kv_tokens_per_layer);
      distinct.insert(batch.kv[i].lazy_layers);
    }
    if (kind != KvPolicyKind::SnapKV) {
      EXPECT_GT(distinct.size(), 1u) << "sequences should decide differently";
    }
  }
}

TEST(SimLayerKV, SnapKVKeepsBudgetPlusObservationWindow) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  KvPolicyConfig config = policy(KvPolicyKind::SnapKV);
  PolicyRun run = generate(f, {kStory}, config, 5);
  for (int64_t tokens : run.kv[0].kv_tokens_per_layer)
    EXPECT_EQ(tokens, config.snapkv_budget + config.obs_window + 4);  // + the 4 decoded tokens fed back
}

TEST(SimLayerKV, DecodeDetectionDecidesAfterTheFirstGeneratedToken) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  KvPolicyConfig config = policy(KvPolicyKind::SimLayerKV, 0.0, 4, 24);
  config.detect = LazyDetect::Decode;
  PolicyRun run = generate(f, {kStory}, config, 10);
  for (int64_t tokens : run.kv[0].kv_tokens_per_layer) EXPECT_EQ(tokens, 28);
  EXPECT_EQ(run.kv[0].layer_scores.size(), 5u);
}

}  // namespace
}  // namespace slkv
