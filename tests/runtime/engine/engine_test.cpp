// Engine on the real stories260K model: continuous batching with staggered
// arrivals, chunked prefill, preemption, cancel, extend and fork each give
// what a request run alone gives, and the pool ends empty.
#include "runtime/engine/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "kernels/cpu/cpu_backend.h"
#include "runtime/engine/run_to_completion.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/stories_fixture.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::kStory;
using Fixture = testing::StoriesFixture;

KvPolicyConfig policy(const std::string& kind, LazyDetect detect) {
  KvPolicyConfig config;
  config.kind = parse_kv_policy(kind);
  config.detect = detect;
  config.threshold = 0.8;
  config.sink = 4;
  config.recent = 16;
  config.obs_window = 8;
  config.snapkv_budget = 12;
  return config;
}

EngineRequest request(std::vector<int32_t> prompt, int64_t new_tokens, SamplingParams sampling = {}) {
  EngineRequest r;
  r.prompt = std::move(prompt);
  r.max_new_tokens = new_tokens;
  r.sampling = sampling;
  r.stop_ids = {2};
  return r;
}

EngineConfig config_with(const KvPolicyConfig& kv, int64_t max_batch = 64, int64_t max_batch_tokens = 512,
                         int64_t kv_blocks = 0) {
  EngineConfig config;
  config.kv_policy = kv;
  config.limits.max_batch = max_batch;
  config.limits.max_batch_tokens = max_batch_tokens;
  config.kv_blocks = kv_blocks;
  return config;
}

// The request run alone on a fresh engine, its prompt in one chunk.
RequestResult alone(Fixture& f, const EngineRequest& r, const KvPolicyConfig& kv) {
  Engine engine(*f.model, *f.backend, config_with(kv));
  return run_to_completion(engine, {r})[0];
}

// Tokens, decisions and held tokens equal; scores within 1e-5 (the batch's
// matrix shapes may round differently).
void expect_same_run(const RequestResult& got, const RequestResult& want, const std::string& where) {
  EXPECT_EQ(got.tokens, want.tokens) << where;
  EXPECT_EQ(finish_reason_name(got.reason), finish_reason_name(want.reason)) << where;
  EXPECT_EQ(got.kv.lazy_layers, want.kv.lazy_layers) << where;
  EXPECT_EQ(got.kv.kv_tokens_per_layer, want.kv.kv_tokens_per_layer) << where;
  ASSERT_EQ(got.kv.layer_scores.size(), want.kv.layer_scores.size()) << where;
  for (size_t l = 0; l < got.kv.layer_scores.size(); ++l)
    EXPECT_NEAR(got.kv.layer_scores[l], want.kv.layer_scores[l], 1e-5) << where << ", layer " << l;
}

const char* const kPolicies[] = {"full", "simlayerkv", "streaming", "snapkv", "simlayerkv+snapkv"};

TEST(Engine, StaggeredArrivalsGiveEachPromptItsAloneResult) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  const std::vector<size_t> lengths = {150, 12, 60, 33, 90};
  std::set<std::vector<bool>> decisions_seen;
  for (const char* kind : kPolicies)
    for (LazyDetect detect : {LazyDetect::Prefill, LazyDetect::Decode}) {
      const KvPolicyConfig kv = policy(kind, detect);
      const std::string name = std::string(kind) + " (" + lazy_detect_name(detect) + ")";
      // Two running at most, 40 tokens a step: prompts are prefilled in
      // chunks next to other sequences' decode tokens.
      Engine engine(*f.model, *f.backend, config_with(kv, 2, 40));
      std::map<SequenceId, size_t> index;
      std::vector<RequestResult> results(lengths.size());
      size_t submitted = 0, finished = 0;
      for (int64_t step = 0; finished < lengths.size(); ++step) {
        // Arrivals at steps 0, 0, 3, 5 and 9.
        while (submitted < lengths.size() && step >= std::vector<int64_t>{0, 0, 3, 5, 9}[submitted]) {
          index[engine.submit(request(f.prompt(lengths[submitted]), 30))] = submitted;
          ++submitted;
        }
        EXPECT_LE(engine.running(), 2);
        for (const EngineEvent& event : engine.step()) {
          RequestResult& r = results[index.at(event.sequence)];
          if (event.kind == EngineEvent::Kind::Token) {
            r.tokens.push_back(event.token);
          } else {
            r.reason = event.reason;
            r.kv = event.kv;
            ++finished;
          }
        }
        ASSERT_LT(step, 2000) << "the engine stopped making progress";
      }
      for (size_t i = 0; i < lengths.size(); ++i) {
        expect_same_run(results[i], alone(f, request(f.prompt(lengths[i]), 30), kv),
                        name + ", prompt " + std::to_string(i));
        decisions_seen.insert(results[i].kv.lazy_layers);
      }
      EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0) << name;
    }
  EXPECT_GT(decisions_seen.size(), 2u) << "the prompts should not all decide alike";
}

TEST(Engine, ChunkedPrefillDecidesAsOneChunk) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  const std::vector<int32_t> prompt = f.prompt(400);
  for (const char* kind : {"simlayerkv", "snapkv", "simlayerkv+snapkv"})
    for (LazyDetect detect : {LazyDetect::Prefill, LazyDetect::Decode}) {
      const KvPolicyConfig kv = policy(kind, detect);
      std::vector<RequestResult> runs;
      for (int64_t chunk : {512, 64, 7}) {
        Engine engine(*f.model, *f.backend, config_with(kv, 64, chunk));
        runs.push_back(run_to_completion(engine, {request(prompt, 20)})[0]);
        // 400 tokens in chunks of `chunk`, then one step per generated token after the first.
        EXPECT_EQ(engine.stats().steps, (400 + chunk - 1) / chunk + static_cast<int64_t>(runs.back().tokens.size()) - 1)
            << kind << " chunk " << chunk;
      }
      ASSERT_FALSE(runs[0].kv.layer_scores.empty());
      for (size_t i = 1; i < runs.size(); ++i)
        expect_same_run(runs[i], runs[0], std::string(kind) + " (" + lazy_detect_name(detect) + ") run " + std::to_string(i));
    }
}

TEST(Engine, PreemptionFinishesEveryRequestWithItsAloneResult) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  // Short prompts, long generations: admission sees room for the prompts,
  // then the decodes outgrow a pool that holds one request at its longest.
  const std::vector<size_t> lengths = {10, 14, 8, 20};
  const int64_t new_tokens = 90;
  const int64_t layers = f.model->config().num_layers;
  const int64_t one_request = layers * ((20 + new_tokens + 15) / 16);
  for (const char* kind : {"full", "simlayerkv", "snapkv"})
    for (LazyDetect detect : {LazyDetect::Prefill, LazyDetect::Decode}) {
      KvPolicyConfig kv = policy(kind, detect);
      kv.recent = 40;  // windows that roll during the generation
      std::vector<EngineRequest> requests;
      for (size_t i = 0; i < lengths.size(); ++i)
        requests.push_back(request(f.prompt(lengths[i]), new_tokens,
                                   i == 1 ? SamplingParams{0.9f, 20, 0.95f, 77} : SamplingParams{}));
      Engine engine(*f.model, *f.backend, config_with(kv, 64, 512, one_request + 3));
      const std::vector<RequestResult> results = run_to_completion(engine, requests);
      const std::string name = std::string(kind) + " (" + lazy_detect_name(detect) + ")";
      EXPECT_GT(engine.stats().preemptions, 0) << name << ": the pool should have run out";
      for (size_t i = 0; i < requests.size(); ++i) {
        ASSERT_NE(results[i].reason, FinishReason::Error) << results[i].error;
        expect_same_run(results[i], alone(f, requests[i], kv), name + ", prompt " + std::to_string(i));
      }
      EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0) << name;
    }
}

TEST(Engine, ARequestThatCannotFitThePoolFailsClearly) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  Engine engine(*f.model, *f.backend, config_with(KvPolicyConfig{}, 64, 512, 12));
  const RequestResult result = run_to_completion(engine, {request(f.prompt(100), 10)})[0];
  EXPECT_EQ(result.reason, FinishReason::Error);
  EXPECT_NE(result.error.find("--kv-blocks"), std::string::npos) << result.error;
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);
}

TEST(Engine, CancelFreesEveryBlock) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  Engine engine(*f.model, *f.backend, config_with(policy("simlayerkv", LazyDetect::Prefill), 64, 32));
  const SequenceId a = engine.submit(request(f.prompt(100), 50));
  const SequenceId b = engine.submit(request(f.prompt(30), 50));
  for (int i = 0; i < 6; ++i) engine.step();
  EXPECT_GT(engine.cache().pool().blocks_in_use(), 0);
  engine.cancel(a);
  bool cancelled = false;
  for (const EngineEvent& event : engine.step())
    cancelled |= event.kind == EngineEvent::Kind::Finished && event.sequence == a &&
                 event.reason == FinishReason::Cancelled;
  EXPECT_TRUE(cancelled);
  engine.cancel(b);
  while (engine.has_work()) engine.step();
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);
}

TEST(Engine, ExtendingAKeptSequenceEqualsARunOverItsWholeHistory) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  const KvPolicyConfig none_lazy = policy("full", LazyDetect::Prefill);
  Engine engine(*f.model, *f.backend, config_with(none_lazy, 64, 48));
  EngineRequest first = request(f.prompt(40), 12);
  first.keep = true;
  const RequestResult turn1 = run_to_completion(engine, {first})[0];
  ASSERT_EQ(turn1.reason, FinishReason::Length);
  const SequenceId id = turn1.sequence;
  const std::vector<int32_t> more = f.tokenizer.encode(" The dog ran to the big tree and", false);
  engine.extend(id, more, 15);
  std::vector<int32_t> turn2;
  while (engine.has_work())
    for (const EngineEvent& event : engine.step())
      if (event.kind == EngineEvent::Kind::Token) turn2.push_back(event.token);
  // From scratch: the first prompt, what it generated, the new tokens.
  std::vector<int32_t> history = f.prompt(40);
  history.insert(history.end(), turn1.tokens.begin(), turn1.tokens.end());
  history.insert(history.end(), more.begin(), more.end());
  std::vector<int32_t> whole = history;
  whole.insert(whole.end(), turn2.begin(), turn2.end());
  EXPECT_EQ(engine.tokens(id), whole);
  EXPECT_EQ(turn2, alone(f, request(history, 15), none_lazy).tokens);
  engine.release(id);
  while (engine.has_work()) engine.step();
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);
}

TEST(Engine, ForkSharesBlocksAndContinuesLikeAFreshRun) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  const KvPolicyConfig kv = policy("full", LazyDetect::Prefill);
  Engine engine(*f.model, *f.backend, config_with(kv));
  EngineRequest first = request(f.prompt(45), 10);
  first.keep = true;
  const RequestResult parent = run_to_completion(engine, {first})[0];
  const int64_t held = engine.cache().pool().blocks_in_use();
  const SequenceId child = engine.fork(parent.sequence);
  engine.step();  // the fork takes effect
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), held) << "a fork shares its parent's blocks";

  // Both continue with different text: each equals a fresh run over its history.
  const std::vector<int32_t> a = f.tokenizer.encode(" She ran home", false);
  const std::vector<int32_t> b = f.tokenizer.encode(" The cat was happy and", false);
  engine.extend(parent.sequence, a, 12);
  engine.extend(child, b, 12);
  std::map<SequenceId, std::vector<int32_t>> generated;
  while (engine.has_work())
    for (const EngineEvent& event : engine.step())
      if (event.kind == EngineEvent::Kind::Token) generated[event.sequence].push_back(event.token);
  EXPECT_GT(engine.cache().pool().blocks_in_use(), held) << "written shared blocks were copied";
  for (const auto& [id, extra] : {std::pair{parent.sequence, a}, std::pair{child, b}}) {
    std::vector<int32_t> history = f.prompt(45);
    history.insert(history.end(), parent.tokens.begin(), parent.tokens.end());
    history.insert(history.end(), extra.begin(), extra.end());
    EXPECT_EQ(generated[id], alone(f, request(history, 12), kv).tokens) << "sequence " << id;
  }
  engine.release(parent.sequence);
  engine.release(child);
  while (engine.has_work()) engine.step();
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);
}

TEST(Engine, StopStringsEndARequestAcrossTokenBoundaries) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  Engine engine(*f.model, *f.backend, EngineConfig{}, nullptr, &f.tokenizer);
  const RequestResult free_run = run_to_completion(engine, {request(f.prompt(20), 60)})[0];
  const std::string text = f.tokenizer.decode(free_run.tokens, true);
  ASSERT_GT(text.size(), 12u);
  // A stop string that starts inside one token and ends in a later one.
  const std::string stop = text.substr(text.size() / 2, 5);
  EngineRequest r = request(f.prompt(20), 60);
  r.stop_strings = {"no such text", stop};
  const RequestResult stopped = run_to_completion(engine, {r})[0];
  EXPECT_EQ(stopped.reason, FinishReason::Stop);
  EXPECT_EQ(stopped.stop_string, stop);
  const std::string stopped_text = f.tokenizer.decode(stopped.tokens, true);
  EXPECT_NE(stopped_text.find(stop), std::string::npos);
  // It ended at the first token that completed the stop string.
  std::vector<int32_t> shorter(stopped.tokens.begin(), stopped.tokens.end() - 1);
  EXPECT_EQ(f.tokenizer.decode(shorter, true).find(stop), std::string::npos);
  EXPECT_THROW(Engine(*f.model, *f.backend, EngineConfig{}).submit(r), Error) << "stop strings need a tokenizer";
}

TEST(Engine, BadRequestsAreRefusedBeforeAnythingRuns) {
  SLKV_REQUIRE_SHARED();
  Fixture f;
  Engine engine(*f.model, *f.backend, EngineConfig{});
  EXPECT_THROW(engine.submit(request({}, 5)), Error);
  EXPECT_THROW(engine.submit(request(std::vector<int32_t>(512, 5), 5)), Error);
  EXPECT_THROW(engine.submit(request({1, 9999}, 5)), Error);
  EXPECT_THROW(engine.submit(request({1, 5}, 5, SamplingParams{-1.f, 0, 1.f, 0})), Error);
  EXPECT_FALSE(engine.has_work());
  EngineConfig bad;
  bad.limits.max_batch = 0;
  EXPECT_THROW(Engine(*f.model, *f.backend, bad), Error);
}

}  // namespace
}  // namespace slkv
