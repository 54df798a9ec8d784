// Sessions in the engine: kept sequences extended turn by turn with their
// lazy layers' dropped KV parked in host memory (OffloadManager) and
// re-identified each turn, against from-scratch runs over the same token
// history. stories260K, sink 4 / recent 32 as its 512-token context wants.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "offload/offload_manager.h"
#include "runtime/engine/engine.h"
#include "tests/stories_fixture.h"

namespace slkv {
namespace {

using Fixture = testing::StoriesFixture;

KvPolicyConfig lazy_policy(Reidentify mode, double threshold = 0.95) {
  KvPolicyConfig config;
  config.kind = KvPolicyKind::SimLayerKV;
  config.threshold = threshold;
  config.sink = 4;
  config.recent = 32;
  config.obs_window = 8;
  config.reidentify = mode;
  return config;
}

struct TurnResult {
  std::vector<int32_t> input_history;  // the history when the turn started generating (prompt for a from-scratch run)
  std::vector<int32_t> tokens;
  EngineEvent finished;
};

// Steps the engine until `id` finishes.
TurnResult finish_turn(Engine& engine, SequenceId id) {
  TurnResult turn;
  turn.input_history = engine.tokens(id);
  while (true)
    for (const EngineEvent& event : engine.step()) {
      if (event.sequence != id) continue;
      if (event.kind == EngineEvent::Kind::Token) {
        turn.tokens.push_back(event.token);
      } else {
        turn.finished = event;
        return turn;
      }
    }
}

TurnResult first_turn(Engine& engine, std::vector<int32_t> prompt, int64_t new_tokens, SequenceId* id) {
  EngineRequest request;
  request.prompt = std::move(prompt);
  request.max_new_tokens = new_tokens;
  request.keep = true;
  *id = engine.submit(std::move(request));
  return finish_turn(engine, *id);
}

TurnResult next_turn(Engine& engine, SequenceId id, const std::vector<int32_t>& input, int64_t new_tokens) {
  engine.extend(id, input, new_tokens);
  return finish_turn(engine, id);
}

// A from-scratch run of `prompt` on a fresh engine without an offload store.
TurnResult from_scratch(Fixture& f, const EngineConfig& config, const std::vector<int32_t>& prompt,
                        int64_t new_tokens) {
  Engine engine(*f.model, *f.backend, config);
  SequenceId id = 0;
  return first_turn(engine, prompt, new_tokens, &id);
}

// The user turns: stretches of the story (no BOS), different for each turn.
std::vector<int32_t> user_turn(const Fixture& f, size_t offset, size_t length) {
  std::vector<int32_t> ids = f.tokenizer.encode(testing::kStory, false);
  std::vector<int32_t> out;
  for (size_t i = 0; i < length; ++i) out.push_back(ids[(offset + i) % ids.size()]);
  return out;
}

// A threshold that makes the two highest-scoring layers of `prompt` lazy, the
// others not (read from a run that scores without trimming).
double threshold_with_two_lazy(Fixture& f, const std::vector<int32_t>& prompt);

std::unique_ptr<OffloadManager> make_offload(Fixture& f, int64_t capacity = int64_t{1} << 30) {
  const AttentionShape shape = f.model->attention_shape();
  return std::make_unique<OffloadManager>(*f.backend, shape.n_kv_heads * shape.head_dim, capacity);
}

int64_t bytes_per_token_per_layer(const Fixture& f) {
  const AttentionShape shape = f.model->attention_shape();
  return 2 * shape.n_kv_heads * shape.head_dim * static_cast<int64_t>(sizeof(float));
}

double threshold_with_two_lazy(Fixture& f, const std::vector<int32_t>& prompt) {
  EngineConfig scoring;
  scoring.kv_policy = lazy_policy(Reidentify::Exact, /*threshold=*/1.0);
  std::vector<double> scores = from_scratch(f, scoring, prompt, 1).finished.kv.layer_scores;
  std::sort(scores.rbegin(), scores.rend());
  return (scores[1] + scores[2]) / 2;
}

TEST(Sessions, WithoutLazyLayersEveryTurnEqualsAFromScratchFullRun) {
  Fixture f;
  auto offload = make_offload(f);
  EngineConfig config;
  config.kv_policy = lazy_policy(Reidentify::Exact, /*threshold=*/1.0);  // scores never exceed 1: nothing lazy
  Engine engine(*f.model, *f.backend, config, nullptr, nullptr, offload.get());
  EngineConfig full;
  full.kv_policy.kind = KvPolicyKind::Full;
  SequenceId id = 0;
  std::vector<TurnResult> turns;
  turns.push_back(first_turn(engine, f.prompt(120), 24, &id));
  turns.push_back(next_turn(engine, id, user_turn(f, 10, 40), 24));
  turns.push_back(next_turn(engine, id, user_turn(f, 60, 40), 24));
  for (size_t t = 0; t < turns.size(); ++t) {
    const TurnResult reference = from_scratch(f, full, turns[t].input_history, 24);
    EXPECT_EQ(turns[t].tokens, reference.tokens) << "turn " << t + 1;
    EXPECT_EQ(turns[t].finished.kv.offload.bytes_parked, 0);
  }
  EXPECT_EQ(engine.stats().reprefilled_tokens, 0);
}

TEST(Sessions, ExactReidentificationParksRestoresAndRescoresLikeAFromScratchRun) {
  Fixture f;
  auto offload = make_offload(f);
  EngineConfig config;
  config.kv_policy = lazy_policy(Reidentify::Exact, threshold_with_two_lazy(f, f.prompt(150)));
  Engine engine(*f.model, *f.backend, config, nullptr, nullptr, offload.get());
  EngineConfig alone;  // the same policy, no store: what a from-scratch run does
  alone.kv_policy = config.kv_policy;

  SequenceId id = 0;
  const TurnResult turn1 = first_turn(engine, f.prompt(150), 24, &id);
  const TurnResult reference1 = from_scratch(f, alone, turn1.input_history, 24);
  EXPECT_EQ(turn1.tokens, reference1.tokens);
  EXPECT_EQ(turn1.finished.kv.layer_scores, reference1.finished.kv.layer_scores);
  const std::vector<bool> lazy1 = turn1.finished.kv.lazy_layers;
  const auto lowest = std::find(lazy1.begin(), lazy1.end(), true);
  ASSERT_NE(lowest, lazy1.end()) << "no layer lazy in turn 1: the test needs one";
  const int64_t lowest_lazy = lowest - lazy1.begin();

  // Every dropped token is parked once: the bytes full KV would hold minus those held.
  const OffloadCounters parked1 = turn1.finished.kv.offload;
  EXPECT_EQ(parked1.bytes_parked, turn1.finished.kv.kv_bytes_full - turn1.finished.kv.kv_bytes);
  EXPECT_GT(parked1.bytes_parked, 0);
  EXPECT_EQ(parked1.bytes_parked % bytes_per_token_per_layer(f), 0);
  EXPECT_EQ(parked1.bytes_held, parked1.bytes_parked);
  EXPECT_EQ(parked1.bytes_restored, 0);

  const TurnResult turn2 = next_turn(engine, id, user_turn(f, 20, 40), 24);
  const OffloadCounters after2 = turn2.finished.kv.offload;
  EXPECT_EQ(after2.bytes_restored, parked1.bytes_parked);  // turn 2 restored everything turn 1 parked
  // The layers whose inputs never passed through a windowed layer see exact KV:
  // their scores are those of a from-scratch run over the same history.
  const TurnResult reference2 = from_scratch(f, alone, turn2.input_history, 24);
  ASSERT_EQ(turn2.finished.kv.layer_scores.size(), reference2.finished.kv.layer_scores.size());
  for (int64_t layer = 0; layer <= lowest_lazy; ++layer)
    EXPECT_NEAR(turn2.finished.kv.layer_scores[layer], reference2.finished.kv.layer_scores[layer], 1e-5)
        << "layer " << layer;
  // What is parked now is what turn 2 dropped: the layers lazy again.
  EXPECT_EQ(after2.bytes_held, turn2.finished.kv.kv_bytes_full - turn2.finished.kv.kv_bytes);
  const TurnResult turn3 = next_turn(engine, id, user_turn(f, 70, 30), 16);
  EXPECT_EQ(turn3.tokens.size(), 16u);
  engine.release(id);
  engine.step();
  EXPECT_EQ(offload->totals().bytes_held, 0);
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);
}

// FNV-1a over a block of positions' keys and values.
uint64_t block_checksum(const KvCache& cache, SequenceId id, int64_t layer, int64_t first, int64_t count) {
  const int64_t floats = cache.geometry().n_kv_heads * cache.geometry().head_dim;
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](const float* data) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    for (int64_t i = 0; i < floats * static_cast<int64_t>(sizeof(float)); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  };
  for (int64_t slot = first; slot < first + count; ++slot) {
    mix(cache.key_at(id, layer, slot));
    mix(cache.value_at(id, layer, slot));
  }
  return hash;
}

// Records the keys and values of every position parked (what turn 1
// computed before it dropped them), then hands them to the offload manager.
class RecordingStore final : public DroppedKvStore {
 public:
  explicit RecordingStore(OffloadManager& inner, int64_t floats) : inner_(inner), floats_(floats) {}
  std::map<std::pair<int64_t, int64_t>, std::vector<float>> recorded;  // (layer, position) -> keys then values

  void add_sequence(SequenceId s) override { inner_.add_sequence(s); }
  void remove_sequence(SequenceId s) override { inner_.remove_sequence(s); }
  void fork_sequence(SequenceId p, SequenceId c) override { inner_.fork_sequence(p, c); }
  bool parks(SequenceId s) const override { return inner_.parks(s); }
  void touch(SequenceId s) override { inner_.touch(s); }
  std::vector<SequenceId> take_evicted() override { return inner_.take_evicted(); }
  OffloadCounters counters(SequenceId s) const override { return inner_.counters(s); }
  IndexRange parked(SequenceId s, int64_t layer) const override { return inner_.parked(s, layer); }
  void park(SequenceId s, int64_t layer, int64_t first, std::span<const KvSpan> runs) override {
    int64_t position = first;
    for (const KvSpan& run : runs)
      for (int64_t t = 0; t < run.n_tokens; ++t, ++position) {
        std::vector<float>& kv = recorded[{layer, position}];
        if (!kv.empty()) continue;  // parked before: the first copy is what was computed
        kv.assign(run.keys + t * floats_, run.keys + (t + 1) * floats_);
        kv.insert(kv.end(), run.values + t * floats_, run.values + (t + 1) * floats_);
      }
    inner_.park(s, layer, first, runs);
  }
  void restore(SequenceId s, int64_t layer, IndexRange positions, std::span<const KvSlots> slots) override {
    inner_.restore(s, layer, positions, slots);
  }
  void forget_layer(SequenceId s, int64_t layer) override { inner_.forget_layer(s, layer); }

 private:
  OffloadManager& inner_;
  int64_t floats_;
};

TEST(Sessions, TheKvATurnReadsAfterARestoreIsBitForBitWhatTheFirstTurnComputed) {
  Fixture f;
  auto offload = make_offload(f);
  const AttentionShape shape = f.model->attention_shape();
  const int64_t floats = shape.n_kv_heads * shape.head_dim;
  RecordingStore store(*offload, floats);
  const std::vector<int32_t> prompt = f.prompt(150);
  EngineConfig config;
  config.kv_policy = lazy_policy(Reidentify::Exact, threshold_with_two_lazy(f, prompt));
  config.limits.max_batch_tokens = 8;  // turn 2's first step restores and runs 8 of its tokens, before any trim
  Engine engine(*f.model, *f.backend, config, nullptr, nullptr, &store);
  EngineConfig full_config = config;
  full_config.kv_policy.kind = KvPolicyKind::Full;
  Engine full(*f.model, *f.backend, full_config);

  SequenceId id = 0, full_id = 0;
  const TurnResult turn1 = first_turn(engine, prompt, 20, &id);
  first_turn(full, prompt, 0, &full_id);  // the prompt's KV, never trimmed
  ASSERT_TRUE(std::find(turn1.finished.kv.lazy_layers.begin(), turn1.finished.kv.lazy_layers.end(), true) !=
              turn1.finished.kv.lazy_layers.end());
  const KvCache& cache = engine.cache();
  const int64_t layers = f.model->config().num_layers;
  const int64_t computed = static_cast<int64_t>(turn1.input_history.size() + turn1.tokens.size()) - 1;  // the last id is not fed yet
  // Turn 1's KV, position by position: what it holds now, or what it parked.
  std::vector<std::vector<std::vector<float>>> expected(layers, std::vector<std::vector<float>>(computed));
  for (int64_t layer = 0; layer < layers; ++layer) {
    const int64_t held = cache.tokens_held(id, layer);
    const int64_t recent_start = computed - (held - std::min<int64_t>(held, 4));
    for (int64_t p = 0; p < computed; ++p) {
      std::vector<float>& kv = expected[layer][p];
      const bool kept = cache.retention(id, layer).kind == Retention::Kind::Full || p < 4 || p >= recent_start;
      if (kept) {
        const int64_t slot = cache.retention(id, layer).kind == Retention::Kind::Full || p < 4 ? p : 4 + p - recent_start;
        kv.assign(cache.key_at(id, layer, slot), cache.key_at(id, layer, slot) + floats);
        kv.insert(kv.end(), cache.value_at(id, layer, slot), cache.value_at(id, layer, slot) + floats);
      } else {
        ASSERT_TRUE(store.recorded.count({layer, p})) << "layer " << layer << " position " << p << " neither held nor parked";
        kv = store.recorded.at({layer, p});
      }
    }
  }

  engine.extend(id, user_turn(f, 20, 40), 8);
  engine.step();  // restore, then the first 8 of the turn's tokens
  for (int64_t layer = 0; layer < layers; ++layer) {
    ASSERT_EQ(cache.retention(id, layer).kind, Retention::Kind::Full) << "layer " << layer;
    for (int64_t block = 0; block < computed; block += 16) {
      const int64_t count = std::min<int64_t>(16, computed - block);
      // Expected checksum from the recorded floats, laid out as the cache lays them.
      uint64_t hash = 1469598103934665603ull;
      for (int64_t p = block; p < block + count; ++p) {
        const auto* bytes = reinterpret_cast<const unsigned char*>(expected[layer][p].data());
        for (int64_t i = 0; i < floats * static_cast<int64_t>(sizeof(float)); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
        for (int64_t i = floats * static_cast<int64_t>(sizeof(float)); i < 2 * floats * static_cast<int64_t>(sizeof(float)); ++i)
          hash = (hash ^ bytes[i]) * 1099511628211ull;
      }
      EXPECT_EQ(block_checksum(cache, id, layer, block, count), hash) << "layer " << layer << " block " << block / 16;
      // The prompt's positions also equal, bit for bit, a run that never trimmed.
      if (block + count <= static_cast<int64_t>(prompt.size()))
        EXPECT_EQ(block_checksum(cache, id, layer, block, count),
                  block_checksum(full.cache(), full_id, layer, block, count))
            << "layer " << layer << " block " << block / 16;
    }
  }
}

TEST(Sessions, ASessionWhoseParkedKvWasEvictedIsRePrefilledLikeAFromScratchRun) {
  Fixture f;
  EngineConfig config;
  config.kv_policy = lazy_policy(Reidentify::Exact, /*threshold=*/0.5);  // every layer lazy: much to park
  // Room for one session's parked KV, not two: B's parking evicts A's.
  const int64_t per_token = bytes_per_token_per_layer(f);
  auto offload = make_offload(f, /*capacity=*/f.model->config().num_layers * 8 * 16 * per_token);
  Engine engine(*f.model, *f.backend, config, nullptr, nullptr, offload.get());
  EngineConfig alone;
  alone.kv_policy = config.kv_policy;

  SequenceId a = 0, b = 0;
  first_turn(engine, f.prompt(140), 8, &a);
  ASSERT_GT(offload->counters(a).bytes_parked, 0);
  first_turn(engine, f.prompt(150), 8, &b);
  EXPECT_GT(offload->counters(b).bytes_parked, 0);
  EXPECT_GE(offload->totals().sessions_evicted, 1);
  EXPECT_GE(engine.stats().sessions_evicted, 1);
  const TurnResult a2 = next_turn(engine, a, user_turn(f, 5, 30), 16);
  EXPECT_GT(a2.finished.reprefilled_tokens, 0);
  EXPECT_EQ(a2.tokens, from_scratch(f, alone, a2.input_history, 16).tokens);
  EXPECT_GT(engine.stats().reprefilled_tokens, 0);
}

TEST(Sessions, IdleSessionsGiveTheirKvBackWhenThePoolRunsOutAndRePrefillLater) {
  Fixture f;
  auto offload = make_offload(f);
  EngineConfig config;
  config.kv_policy = lazy_policy(Reidentify::Exact);
  config.kv_blocks = 5 * 16;  // about 250 tokens of full KV on 5 layers: two sessions cannot both stay
  Engine engine(*f.model, *f.backend, config, nullptr, nullptr, offload.get());
  EngineConfig alone;
  alone.kv_policy = config.kv_policy;
  SequenceId a = 0, b = 0;
  first_turn(engine, f.prompt(180), 8, &a);
  first_turn(engine, f.prompt(200), 8, &b);  // needs A's blocks: A (idle) is evicted
  EXPECT_GE(engine.stats().sessions_evicted, 1);
  const TurnResult a2 = next_turn(engine, a, user_turn(f, 5, 20), 12);
  EXPECT_GT(a2.finished.reprefilled_tokens, 0);
  EXPECT_EQ(a2.tokens, from_scratch(f, alone, a2.input_history, 12).tokens);
}

TEST(Sessions, CachedReidentificationRestoresOnlyLayersThatTurnNonLazyAndNoneParksNothing) {
  Fixture f;
  for (Reidentify mode : {Reidentify::Cached, Reidentify::None}) {
    auto offload = make_offload(f);
    EngineConfig config;
    config.kv_policy = lazy_policy(mode, threshold_with_two_lazy(f, f.prompt(150)));
    Engine engine(*f.model, *f.backend, config, nullptr, nullptr, offload.get());
    SequenceId id = 0;
    const TurnResult turn1 = first_turn(engine, f.prompt(150), 16, &id);
    const TurnResult turn2 = next_turn(engine, id, user_turn(f, 20, 40), 16);
    EXPECT_EQ(turn2.tokens.size(), 16u);
    const OffloadCounters counters = turn2.finished.kv.offload;
    if (mode == Reidentify::None) {
      EXPECT_EQ(counters.bytes_parked, 0);
      EXPECT_EQ(counters.bytes_restored, 0);
      continue;
    }
    EXPECT_GT(turn1.finished.kv.offload.bytes_parked, 0);
    // A layer lazy in both turns stays windowed (nothing restored for it);
    // one that turned non-lazy is whole again.
    for (size_t layer = 0; layer < turn2.finished.kv.lazy_layers.size(); ++layer) {
      const bool was = turn1.finished.kv.lazy_layers[layer], is = turn2.finished.kv.lazy_layers[layer];
      const Retention::Kind kind = engine.cache().retention(id, static_cast<int64_t>(layer)).kind;
      if (is) EXPECT_EQ(kind, Retention::Kind::Window) << "layer " << layer;
      if (was && !is) EXPECT_EQ(kind, Retention::Kind::Full) << "layer " << layer;
    }
    bool any_restored = false;
    for (size_t layer = 0; layer < turn2.finished.kv.lazy_layers.size(); ++layer)
      any_restored |= turn1.finished.kv.lazy_layers[layer] && !turn2.finished.kv.lazy_layers[layer];
    EXPECT_EQ(counters.bytes_restored > 0, any_restored);
  }
}

}  // namespace
}  // namespace slkv
