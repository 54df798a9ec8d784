// The slkv executable: generate (--json, --prompts-file), tokenize, inspect and
// clean failures on bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::run_slkv;

std::string model_flag() { return "--model '" + testing::stories_dir().string() + "'"; }

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
  auto path = std::filesystem::temp_directory_path() / ("slkv_cli_test_" + std::to_string(getpid()) + "_" + name);
  std::ofstream(path) << content;
  return path;
}

TEST(Cli, GenerateJsonReportsTokensTextAndTimings) {
  SLKV_REQUIRE_SHARED();
  auto result = run_slkv("generate " + model_flag() + " --prompt 'Once upon a time' --max-new-tokens 12 --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto out = nlohmann::json::parse(result.output);
  EXPECT_EQ(out["prompt_tokens"], 5);
  EXPECT_EQ(out["tokens"].size(), 12u);
  EXPECT_EQ(out["finish_reason"], "length");
  EXPECT_EQ(out["text"].get<std::string>().rfind(", there was a little girl named Lily.", 0), 0u) << out["text"];
  EXPECT_TRUE(out["timings"].contains("prefill_ms"));
  EXPECT_TRUE(out["timings"].contains("decode_tokens_per_s"));
}

TEST(Cli, StreamedTextEqualsJsonText) {
  SLKV_REQUIRE_SHARED();
  auto streamed = run_slkv("generate " + model_flag() + " --prompt 'Zoo' --max-new-tokens 30");
  auto json = run_slkv("generate " + model_flag() + " --prompt 'Zoo' --max-new-tokens 30 --json");
  ASSERT_EQ(streamed.exit_code, 0);
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_EQ(streamed.output, "Zoo" + nlohmann::json::parse(json.output)["text"].get<std::string>() + "\n");
}

TEST(Cli, PromptsFileRunsABatchInInputOrder) {
  SLKV_REQUIRE_SHARED();
  const std::vector<std::string> prompts = {"Lily went to the park", "Zoo", "Once upon a time there was a dog"};
  std::string content;
  for (const auto& p : prompts) content += nlohmann::json(p).dump() + "\n";
  auto file = temp_file("prompts.jsonl", content);
  auto batch =
      run_slkv("generate " + model_flag() + " --prompts-file '" + file.string() + "' --max-new-tokens 20 --json");
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  std::istringstream lines(batch.output);
  std::string line;
  for (const auto& prompt : prompts) {
    ASSERT_TRUE(std::getline(lines, line));
    auto alone = run_slkv("generate " + model_flag() + " --prompt " + nlohmann::json(prompt).dump() +
                          " --max-new-tokens 20 --json");
    EXPECT_EQ(nlohmann::json::parse(line)["tokens"], nlohmann::json::parse(alone.output)["tokens"]) << prompt;
  }
  EXPECT_FALSE(std::getline(lines, line));
  std::filesystem::remove(file);
}

TEST(Cli, TokenizeAndDecodeRoundTrip) {
  SLKV_REQUIRE_SHARED();
  auto ids = run_slkv("tokenize " + model_flag(), false, "Once upon a time");
  ASSERT_EQ(ids.exit_code, 0);
  auto parsed = nlohmann::json::parse(ids.output);
  EXPECT_EQ(parsed[0], 1);  // BOS
  EXPECT_EQ(parsed[1], 403);
  EXPECT_EQ(parsed.size(), 5u);
  auto no_special = run_slkv("tokenize --no-special " + model_flag(), false, "Once");
  EXPECT_NE(nlohmann::json::parse(no_special.output)[0], 1);
  auto text = run_slkv("tokenize --decode " + model_flag(), false, "[403, 407, 261, 378]");
  EXPECT_EQ(text.output, "Once upon a time");
}

TEST(Cli, InspectPrintsConfigAndCounts) {
  SLKV_REQUIRE_SHARED();
  auto result = run_slkv("inspect " + model_flag());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto out = nlohmann::json::parse(result.output);
  EXPECT_EQ(out["num_hidden_layers"], 5);
  EXPECT_EQ(out["bytes_by_dtype"]["F32"].get<int64_t>(), out["parameters"].get<int64_t>() * 4);
}

TEST(Cli, BadInputFailsCleanly) {
  SLKV_REQUIRE_SHARED();
  struct Case {
    std::string arguments;
    std::string message;
  };
  auto bad_prompts = temp_file("bad.jsonl", "\"fine\"\n{not json\n");
  const std::vector<Case> cases = {
      {"generate --prompt hi", "--model"},
      {"generate --model /nonexistent/dir --prompt hi", "/nonexistent/dir"},
      {"generate " + model_flag() + " --prompt hi --temperature -1", "--temperature"},
      {"generate " + model_flag() + " --prompt hi --top-p 2", "--top-p"},
      {"generate " + model_flag() + " --prompt hi --max-new-tokens abc", "max-new-tokens"},
      {"generate " + model_flag() + " --prompt hi --no-such-flag", "no-such-flag"},
      {"generate " + model_flag() + " --prompts-file '" + bad_prompts.string() + "'", ":2:"},
      {"frobnicate", "unknown command"},
  };
  for (const auto& c : cases) {
    auto result = run_slkv(c.arguments, /*merge_stderr=*/true);
    EXPECT_NE(result.exit_code, 0) << c.arguments;
    EXPECT_LT(result.exit_code, 3) << c.arguments << ": " << result.output;  // no crash, no internal error
    EXPECT_NE(result.output.find(c.message), std::string::npos) << c.arguments << ": " << result.output;
  }
  std::filesystem::remove(bad_prompts);
}

TEST(Cli, OverLongPromptIsRejected) {
  SLKV_REQUIRE_SHARED();
  std::string prompt;
  for (int i = 0; i < 400; ++i) prompt += "Once upon a time ";
  auto result = run_slkv("generate " + model_flag() + " --prompt '" + prompt + "'", true);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("max_position_embeddings"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace slkv

namespace slkv {
namespace {

TEST(CliKvPolicy, JsonReportsTheKvObject) {
  SLKV_REQUIRE_SHARED();
  auto result = testing::run_slkv("generate " + model_flag() +
                                  " --prompt 'Once upon a time, there was a little girl named Lily. She loved to play "
                                  "outside in the park.' --max-new-tokens 20 --json --kv-policy simlayerkv --sink 2 "
                                  "--recent 8 --lazy-threshold 0.7 --obs-window 4");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto kv = nlohmann::json::parse(result.output)["kv"];
  EXPECT_EQ(kv["policy"], "simlayerkv");
  ASSERT_EQ(kv["lazy_layers"].size(), 5u);
  ASSERT_EQ(kv["layer_scores"].size(), 5u);
  int64_t held = 0;
  for (size_t layer = 0; layer < 5; ++layer) {
    EXPECT_EQ(kv["lazy_layers"][layer].get<bool>(), kv["layer_scores"][layer].get<double>() > 0.7);
    held += kv["kv_tokens_per_layer"][layer].get<int64_t>();
    if (kv["lazy_layers"][layer].get<bool>()) {
      EXPECT_EQ(kv["kv_tokens_per_layer"][layer], 10);
    }
  }
  EXPECT_EQ(kv["kv_bytes"].get<int64_t>(), held * 2 * 4 * 8 * 4);  // K+V x 4 KV heads x head_dim 8 x fp32
  EXPECT_NEAR(kv["compression_ratio"].get<double>(),
              kv["kv_bytes_full"].get<double>() / kv["kv_bytes"].get<double>(), 1e-9);
  EXPECT_GT(kv["kv_blocks"].get<int64_t>(), 0);
}

TEST(CliKvPolicy, BadValuesNameTheFlag) {
  SLKV_REQUIRE_SHARED();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--kv-policy h2o", "--kv-policy"},       {"--sink -1", "--sink"},
      {"--recent -4", "--recent"},              {"--lazy-threshold nan", "--lazy-threshold"},
      {"--lazy-detect sometimes", "--lazy-detect"}, {"--lazy-window shrink", "--lazy-window"},
      {"--snapkv-pool 4", "--snapkv-pool"},     {"--obs-window 0", "--obs-window"},
  };
  for (const auto& [flags, name] : cases) {
    auto result = testing::run_slkv("generate " + model_flag() + " --prompt hi " + flags, true);
    EXPECT_TRUE(result.exit_code == 1 || result.exit_code == 2) << flags << ": " << result.output;
    EXPECT_NE(result.output.find(name), std::string::npos) << flags << ": " << result.output;
  }
}

TEST(CliKvPolicy, AnalyzeLayersReportsEveryLayer) {
  SLKV_REQUIRE_SHARED();
  auto file = temp_file("analyze.jsonl",
                        "\"Once upon a time, there was a little girl named Lily. She loved to play outside.\"\n"
                        "{\"context\": \"Lily went to the park with her mom.\", \"input\": \"What did she see?\"}\n"
                        "plain text prompt about a big red ball\n");
  auto result = testing::run_slkv("analyze-layers " + model_flag() + " --input '" + file.string() +
                                  "' --sink 2 --recent 8 --obs-window 4 --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["prompts"], 3);
  ASSERT_EQ(report["layers"].size(), 5u);
  for (const auto& layer : report["layers"]) {
    EXPECT_LE(layer["min"].get<double>(), layer["median"].get<double>());
    EXPECT_LE(layer["median"].get<double>(), layer["max"].get<double>());
    EXPECT_GT(layer["min"].get<double>(), 0.0);
    EXPECT_LE(layer["max"].get<double>(), 1.0 + 1e-6);
  }
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace slkv
