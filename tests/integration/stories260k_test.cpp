// End to end on the real stories260K model against llama2.c's reference
// outputs: greedy texts, per-position logits, BF16 weights, batching.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "kernels/backend.h"
#include "launch/cli_common.h"
#include "core/error.h"
#include "tests/engine_support.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/integration/reference_outputs.h"
#include "tests/test_support.h"
#include "kernels/cpu/sampling.h"

namespace slkv {
namespace {

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
};

Loaded load(const std::filesystem::path& dir) {
  Loaded loaded;
  loaded.model = Model::load(dir);
  loaded.tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(dir));
  return loaded;
}

// Greedy generation the way run.c does it: stops at BOS.
std::vector<int32_t> greedy(Loaded& loaded, const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                            std::vector<int32_t> stop_tokens = {1}) {
  return testing::run_engine(*loaded.model, *loaded.backend, {{prompt, max_new_tokens, {}}}, KvPolicyConfig{},
                             stop_tokens)[0]
      .tokens;
}

TEST(Stories260K, GreedyOutputsMatchLlama2cReference) {
  SLKV_REQUIRE_SHARED();
  Loaded loaded = load(testing::stories_dir());
  auto cases = testing::read_reference_cases(testing::stories_dir() / "reference" / "reference_greedy_outputs.txt");
  ASSERT_GE(cases.size(), 5u);
  for (const testing::ReferenceCase& c : cases) {
    std::vector<int32_t> prompt = loaded.tokenizer->encode(c.prompt, true);
    std::vector<int32_t> all = prompt;
    // run.c runs `steps` forwards; the one at the last prompt position already samples.
    std::vector<int32_t> generated = greedy(loaded, prompt, c.steps - static_cast<int64_t>(prompt.size()) + 1);
    all.insert(all.end(), generated.begin(), generated.end());
    std::string text = loaded.tokenizer->decode(all, true);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    EXPECT_EQ(text, c.text) << "prompt \"" << c.prompt << "\" -n " << c.steps;
  }
}

struct TraceRow {
  int32_t input = 0, argmax = 0;
  std::vector<std::pair<int32_t, float>> logits;  // (id, value)
};

// The trace file holds one section per prompt, each opened by "prompt_tokens(N): ...".
std::vector<std::vector<TraceRow>> read_traces(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::vector<TraceRow>> sections;
  std::string line;
  const std::regex row_pattern(R"(^pos=(\d+) in=(\d+) argmax=(\d+) logit\[argmax\]=(\S+) (.*)$)");
  const std::regex logit_pattern(R"(logit\[(\d+)\]=(\S+))");
  while (std::getline(in, line)) {
    if (line.rfind("prompt_tokens(", 0) == 0) sections.emplace_back();
    std::smatch match;
    if (sections.empty() || !std::regex_match(line, match, row_pattern)) continue;
    TraceRow row;
    row.input = std::stoi(match[2]);
    row.argmax = std::stoi(match[3]);
    row.logits.push_back({row.argmax, std::stof(match[4])});
    std::string rest = match[5];
    for (std::sregex_iterator it(rest.begin(), rest.end(), logit_pattern), end; it != end; ++it)
      row.logits.push_back({std::stoi((*it)[1]), std::stof((*it)[2])});
    sections.back().push_back(row);
  }
  return sections;
}

void expect_trace_logits(const std::vector<TraceRow>& trace, int64_t row_index, const float* logits) {
  for (auto [id, expected] : trace[row_index].logits)
    EXPECT_NEAR(logits[id], expected, 1e-4) << "position " << row_index << " logit " << id;
}

TEST(Stories260K, LogitsMatchTraceAtEveryPositionPrefill) {
  SLKV_REQUIRE_SHARED();
  Loaded loaded = load(testing::stories_dir());
  auto traces = read_traces(testing::stories_dir() / "reference" / "reference_trace_once_upon_a_time.txt");
  ASSERT_EQ(traces.size(), 2u);  // "Once upon a time" and the empty prompt
  for (const auto& trace : traces) {
    ASSERT_GE(trace.size(), 10u);
    std::vector<int32_t> inputs;
    for (const auto& row : trace) inputs.push_back(row.input);
    KvCache cache(kv_geometry_for(loaded.model->config(), {static_cast<int64_t>(inputs.size())}), *loaded.backend);
    SequenceChunk chunk{cache.add_sequence(), inputs, 0};
    std::vector<float> logits;
    loaded.model->forward(std::span(&chunk, 1), cache, *loaded.backend, LogitsFor::AllTokens, logits);
    const int64_t vocab = loaded.model->config().vocab_size;
    for (size_t i = 0; i < trace.size(); ++i) {
      expect_trace_logits(trace, i, &logits[i * vocab]);
      EXPECT_EQ(cpu::argmax(std::span<const float>(&logits[i * vocab], vocab)), trace[i].argmax) << "position " << i;
    }
  }
}

TEST(Stories260K, LogitsMatchTraceAtEveryPositionDecode) {
  SLKV_REQUIRE_SHARED();
  Loaded loaded = load(testing::stories_dir());
  auto traces = read_traces(testing::stories_dir() / "reference" / "reference_trace_once_upon_a_time.txt");
  ASSERT_EQ(traces.size(), 2u);
  for (const auto& trace : traces) {
    KvCache cache(kv_geometry_for(loaded.model->config(), {static_cast<int64_t>(trace.size())}), *loaded.backend);
    SequenceId sequence = cache.add_sequence();
    std::vector<float> logits;
    for (size_t i = 0; i < trace.size(); ++i) {
      SequenceChunk chunk{sequence, std::span<const int32_t>(&trace[i].input, 1), static_cast<int64_t>(i)};
      loaded.model->forward(std::span(&chunk, 1), cache, *loaded.backend, LogitsFor::LastToken, logits);
      expect_trace_logits(trace, i, logits.data());
    }
  }
}

TEST(Stories260K, Bf16WeightsGiveTheSameFirst20Tokens) {
  SLKV_REQUIRE_SHARED();
  Loaded f32 = load(testing::stories_dir());
  Loaded bf16 = load(testing::shared_dir() / "models" / "stories260K-bf16");
  for (const std::string text : {"Once upon a time", "Lily went to the park", ""}) {
    std::vector<int32_t> prompt = f32.tokenizer->encode(text, true);
    EXPECT_EQ(greedy(bf16, prompt, 20), greedy(f32, prompt, 20)) << "prompt \"" << text << "\"";
  }
}

// "Zoo" is the reference prompt where BF16 rounding legitimately changes the
// greedy path: at its 15th generated token the F32 model's top two logits are
// 0.0035 apart. Up to there the paths agree, and the flip is at that near-tie.
TEST(Stories260K, Bf16DivergesFromF32OnlyAtANearTie) {
  SLKV_REQUIRE_SHARED();
  Loaded f32 = load(testing::stories_dir());
  Loaded bf16 = load(testing::shared_dir() / "models" / "stories260K-bf16");
  std::vector<int32_t> prompt = f32.tokenizer->encode("Zoo", true);
  std::vector<int32_t> expected = greedy(f32, prompt, 20), actual = greedy(bf16, prompt, 20);
  size_t first_difference = 0;
  while (first_difference < expected.size() && expected[first_difference] == actual[first_difference])
    ++first_difference;
  ASSERT_LT(first_difference, expected.size());
  EXPECT_GE(first_difference, 14u);
  std::vector<int32_t> context = prompt;
  context.insert(context.end(), expected.begin(), expected.begin() + first_difference);
  KvCache cache(kv_geometry_for(f32.model->config(), {static_cast<int64_t>(context.size())}), *f32.backend);
  SequenceChunk chunk{cache.add_sequence(), context, 0};
  std::vector<float> logits;
  f32.model->forward(std::span(&chunk, 1), cache, *f32.backend, LogitsFor::LastToken, logits);
  EXPECT_LT(std::abs(logits[expected[first_difference]] - logits[actual[first_difference]]), 0.01f);
}

TEST(Stories260K, BatchGivesEachSequenceItsTokensAlone) {
  SLKV_REQUIRE_SHARED();
  Loaded loaded = load(testing::stories_dir());
  const std::vector<std::string> texts = {"Once upon a time", "Zoo",
                                          "Lily went to the park with her mom and her little dog"};
  std::vector<testing::EngineRun> runs;
  for (const auto& text : texts) runs.push_back({loaded.tokenizer->encode(text, true), 40, {}});
  Engine engine(*loaded.model, *loaded.backend, EngineConfig{});
  std::vector<EngineRequest> requests;
  for (const auto& run : runs) {
    EngineRequest request;
    request.prompt = run.prompt;
    request.max_new_tokens = 40;
    request.stop_ids = {2};
    requests.push_back(request);
  }
  auto batched = run_to_completion(engine, requests);
  ASSERT_EQ(batched.size(), 3u);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(batched[i].tokens, greedy(loaded, runs[i].prompt, 40, {2})) << texts[i];
  }
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);  // every sequence released
}

// Without a logits callback the Engine draws tokens in the backend
// (Backend::sample_tokens on the logits where they are); with one it brings
// the logits to the host first. Both follow TokenDraw, so a seeded run agrees.
TEST(Stories260K, SamplingInTheBackendEqualsSamplingOnTheHost) {
  SLKV_REQUIRE_SHARED();
  Loaded loaded = load(testing::stories_dir());
  const std::vector<SamplingParams> samplings = {{0.9f, 0, 1.f, 11}, {1.2f, 20, 1.f, 12}, {0.7f, 0, 0.8f, 13},
                                                 {1.0f, 40, 0.9f, 14}, {}};
  auto run = [&](bool hand_out_logits) {
    Engine engine(*loaded.model, *loaded.backend, EngineConfig{});
    int64_t rows_seen = 0;
    if (hand_out_logits) engine.set_logits_callback([&](SequenceId, std::span<const float>) { ++rows_seen; });
    std::vector<EngineRequest> requests;
    for (const SamplingParams& sampling : samplings) {
      EngineRequest request;
      request.prompt = loaded.tokenizer->encode("Once upon a time", true);
      request.max_new_tokens = 50;
      request.sampling = sampling;
      request.stop_ids = {2};
      requests.push_back(request);
    }
    auto results = run_to_completion(engine, requests);
    EXPECT_EQ(rows_seen > 0, hand_out_logits);
    std::vector<std::vector<int32_t>> tokens;
    for (const auto& result : results) tokens.push_back(result.tokens);
    return tokens;
  };
  const auto in_backend = run(false);
  const auto on_host = run(true);
  EXPECT_EQ(in_backend, on_host);
  // The sampled requests really sampled: they left the greedy path.
  EXPECT_NE(in_backend[0], in_backend[4]);
}

// A layer appends every chunk's keys before any chunk attends, so a pass
// takes one chunk per sequence and refuses a second.
TEST(Stories260K, TwoChunksOfOneSequenceInOnePassAreRefused) {
  SLKV_REQUIRE_SHARED();
  Loaded loaded = load(testing::stories_dir());
  KvCache cache(kv_geometry_for(loaded.model->config(), {16}), *loaded.backend);
  const SequenceId sequence = cache.add_sequence();
  const std::vector<int32_t> first = {1, 400, 500}, second = {600};
  const std::vector<SequenceChunk> chunks = {{sequence, first, 0}, {sequence, second, 3}};
  std::vector<float> logits;
  EXPECT_THROW(loaded.model->forward(chunks, cache, *loaded.backend, LogitsFor::LastToken, logits), InternalError);
}

TEST(Stories260K, OverLongPromptIsRejected) {
  SLKV_REQUIRE_SHARED();
  Loaded loaded = load(testing::stories_dir());
  std::vector<int32_t> prompt(600, 300);
  Engine engine(*loaded.model, *loaded.backend, EngineConfig{});
  EngineRequest request;
  request.prompt = prompt;
  EXPECT_THROW(engine.submit(request), Error);
  EXPECT_FALSE(engine.has_work());
}

}  // namespace
}  // namespace slkv
