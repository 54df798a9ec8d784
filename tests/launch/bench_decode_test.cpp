// slkv bench-decode on the CPU: every point is reported, KV bytes follow
// context, batch and the lazy-layer windows exactly, points that cannot fit
// are reported as such, and bad flags are refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/checkpoint/test_model_maker.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using Json = nlohmann::json;
using testing::run_slkv;
using testing::stories_dir;

Json run_json(const std::string& arguments) {
  testing::CommandResult result = run_slkv("bench-decode " + arguments + " --json");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  Json report = Json::parse(result.output, nullptr, false);
  EXPECT_TRUE(report.is_object()) << result.output;
  return report;
}

const Json& point_at(const Json& report, int64_t context, int64_t batch) {
  for (const Json& point : report["points"])
    if (point["context"] == context && point["batch"] == batch) return point;
  ADD_FAILURE() << "no point for context " << context << " batch " << batch;
  static const Json none;
  return none;
}

// Untimed warm-up decode steps before the timed ones.
constexpr int64_t kWarmup = 2;

// Tokens each sequence's full layer holds during the timed steps: the
// context, the warm-up tokens, and one more per step (averaged over steps).
double full_layer_tokens_read(int64_t context, int64_t steps) { return context + kWarmup + (steps + 1) / 2.0; }

TEST(BenchDecode, StoriesReportsEveryPointWithKvGrowingWithContextAndBatch) {
  SLKV_REQUIRE_SHARED();
  const Json report = run_json("--model " + stories_dir().string() +
                               " --device cpu --threads 1 --batch 1,3 --context 64,192 --steps 3");
  ASSERT_TRUE(report.is_object());
  ASSERT_EQ(report["points"].size(), 4u);
  ASSERT_EQ(report["prefill"].size(), 2u);
  EXPECT_GT(report["read_bandwidth_gbps"].get<double>(), 0.1);  // measured
  EXPECT_TRUE(report["lazy_layers"].empty());
  const int64_t layers = report["layers"];
  const double per_token_layer = report["kv_bytes_per_token_per_layer"];
  const double weight_bytes = report["weight_bytes_per_step"];
  EXPECT_GT(weight_bytes, 0);
  for (const Json& row : report["prefill"]) {
    EXPECT_TRUE(row["fits"].get<bool>());
    EXPECT_GT(row["tok_s"].get<double>(), 0);
  }
  for (const Json& point : report["points"]) {
    SCOPED_TRACE(point.dump());
    ASSERT_TRUE(point["fits"].get<bool>());
    const int64_t context = point["context"], batch = point["batch"];
    EXPECT_GT(point["step_ms"].get<double>(), 0);
    EXPECT_NEAR(point["tok_s"].get<double>(), batch * 1e3 / point["step_ms"].get<double>(), 1e-6);
    EXPECT_DOUBLE_EQ(point["kv_bytes_read_per_step"].get<double>(),
                     batch * layers * full_layer_tokens_read(context, 3) * per_token_layer);
    EXPECT_EQ(point["kv_bytes_held"].get<double>(), batch * layers * (context + kWarmup + 3) * per_token_layer);
    EXPECT_EQ(point["kv_bytes_full"], point["kv_bytes_held"]);
    const double floor_ms = (weight_bytes + point["kv_bytes_read_per_step"].get<double>()) /
                            (report["read_bandwidth_gbps"].get<double>() * 1e9) * 1e3;
    EXPECT_NEAR(point["floor_ms"].get<double>(), floor_ms, floor_ms * 1e-9);
    EXPECT_NEAR(point["ratio_to_floor"].get<double>(), point["step_ms"].get<double>() / floor_ms, 1e-6);
  }
  EXPECT_GT(point_at(report, 192, 1)["kv_bytes_read_per_step"], point_at(report, 64, 1)["kv_bytes_read_per_step"]);
  EXPECT_GT(point_at(report, 64, 3)["kv_bytes_read_per_step"], point_at(report, 64, 1)["kv_bytes_read_per_step"]);
  EXPECT_EQ(report["largest_fitting_batch"]["64"], 3);
}

class BenchDecodeTestModel : public ::testing::Test {
 protected:
  void SetUp() override {
    TestModelSpec spec;
    spec.hidden_size = 64;
    spec.intermediate_size = 128;
    spec.num_layers = 4;
    spec.num_heads = 4;
    spec.num_kv_heads = 1;
    spec.head_dim = 32;
    spec.vocab_size = 300;
    spec.max_position_embeddings = 1024;
    spec.dtype = DType::BF16;
    make_test_model(spec, scratch_.path());
  }
  std::string common() const {
    return "--model " + scratch_.path().string() + " --device cpu --threads 1 --bandwidth-gbps 10 --steps 3";
  }
  testing::ScratchDir scratch_{"slkv_bench_decode"};
};

TEST_F(BenchDecodeTestModel, HalfTheLayersWindowedReadAndHoldTheExpectedKv) {
  constexpr int64_t kContext = 300, kBatch = 2, kSteps = 3, kSink = 4, kRecent = 32, kLayers = 4;
  const std::string grid = " --context 300 --batch 2 --sink 4 --recent 32";
  const Json full = run_json(common() + grid);
  const Json lazy = run_json(common() + grid + " --lazy-fraction 0.5");
  const Json copied = run_json(common() + grid + " --lazy-fraction 0.5 --fill copy");
  ASSERT_TRUE(full.is_object() && lazy.is_object() && copied.is_object());
  EXPECT_EQ(lazy["lazy_layers"], Json::parse("[0, 2]"));  // evenly spread: every other layer
  const double per_token_layer = full["kv_bytes_per_token_per_layer"];
  EXPECT_EQ(per_token_layer, 2 * 1 * 32 * 4);  // keys + values of one KV head, fp32

  const Json& f = full["points"][0];
  const Json& l = lazy["points"][0];
  ASSERT_TRUE(f["fits"].get<bool>() && l["fits"].get<bool>());
  const double full_read = kBatch * kLayers * full_layer_tokens_read(kContext, kSteps) * per_token_layer;
  const double lazy_read =
      kBatch * (2 * full_layer_tokens_read(kContext, kSteps) + 2 * (kSink + kRecent)) * per_token_layer;
  EXPECT_DOUBLE_EQ(f["kv_bytes_read_per_step"].get<double>(), full_read);
  EXPECT_DOUBLE_EQ(l["kv_bytes_read_per_step"].get<double>(), lazy_read);
  const double full_held = kBatch * kLayers * (kContext + kWarmup + kSteps) * per_token_layer;
  const double lazy_held = kBatch * (2 * (kContext + kWarmup + kSteps) + 2 * (kSink + kRecent)) * per_token_layer;
  EXPECT_EQ(f["kv_bytes_held"].get<double>(), full_held);
  EXPECT_EQ(l["kv_bytes_held"].get<double>(), lazy_held);
  EXPECT_EQ(l["kv_bytes_full"].get<double>(), full_held);  // what full KV would hold
  EXPECT_LT(l["kv_block_bytes_held"].get<double>(), f["kv_block_bytes_held"].get<double>());
  // Filling by copy holds exactly what filling by prefill does.
  for (const char* key : {"kv_bytes_read_per_step", "kv_bytes_held", "kv_bytes_full", "kv_block_bytes_held"})
    EXPECT_EQ(copied["points"][0][key], l[key]) << key;
}

TEST_F(BenchDecodeTestModel, MarkdownTableByDefault) {
  testing::CommandResult result = run_slkv("bench-decode " + common() + " --context 32 --batch 1,2");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("| context | batch | ms/step |"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("step/floor"), std::string::npos);
  EXPECT_NE(result.output.find("| 32 | 2 |"), std::string::npos);
  EXPECT_NE(result.output.find("KV: full"), std::string::npos);
}

TEST(BenchDecode, PointsThatCannotFitAreReportedAndTheRestRun) {
  SLKV_REQUIRE_SHARED();
  // stories260K: 5 layers, 4 KV heads of 8 -> 4096-byte blocks of 16 tokens.
  // Context 64 + 2 warm-up + 2 steps = 5 blocks per layer; the source sequence 4 per
  // layer: batch 1 needs 45 blocks (184320 bytes), batch 4 120 (491520).
  const Json report = run_json("--model " + stories_dir().string() +
                               " --device cpu --threads 1 --bandwidth-gbps 10 --steps 2 --batch 1,4"
                               " --context 64,1024 --kv-budget-gib 0.00028");
  ASSERT_TRUE(report.is_object());
  ASSERT_EQ(report["points"].size(), 4u);
  EXPECT_TRUE(point_at(report, 64, 1)["fits"].get<bool>());
  for (const auto& [context, batch] : {std::pair<int64_t, int64_t>{64, 4}, {1024, 1}, {1024, 4}}) {
    const Json& point = point_at(report, context, batch);
    EXPECT_FALSE(point["fits"].get<bool>()) << point.dump();
    EXPECT_NE(point["reason"].get<std::string>().find("does not fit"), std::string::npos) << point.dump();
  }
  EXPECT_NE(point_at(report, 1024, 1)["reason"].get<std::string>().find("max_position_embeddings"),
            std::string::npos);
  EXPECT_FALSE(report["prefill"][1]["fits"].get<bool>());
  EXPECT_EQ(report["largest_fitting_batch"]["64"], 1);
  EXPECT_FALSE(report["largest_fitting_batch"].contains("1024"));
}

TEST(BenchDecode, BadFlagsAreRefusedByName) {
  SLKV_REQUIRE_SHARED();
  const std::string model = "bench-decode --model " + stories_dir().string() + " ";
  for (const auto& [arguments, flag] : {std::pair<std::string, std::string>{"--device cpu --batch 0", "--batch"},
                                        {"--device cpu --batch 1,x", "--batch"},
                                        {"--device cpu --context 0,64", "--context"},
                                        {"--device cpu --lazy-fraction 1.5", "--lazy-fraction"},
                                        {"--device cpu --steps 0", "--steps"},
                                        {"--device cpu --fill maybe", "--fill"},
                                        {"--device tpu", "--device"}}) {
    SCOPED_TRACE(arguments);
    testing::CommandResult result = run_slkv(model + arguments, /*merge_stderr=*/true);
    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find(flag), std::string::npos) << result.output;
  }
  testing::CommandResult missing = run_slkv("bench-decode --device cpu", true);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("--model"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace slkv
