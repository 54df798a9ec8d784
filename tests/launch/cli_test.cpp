// The slkv executable: generate (--json, --prompts-file), tokenize, inspect,
// usage (stray words, --version, --help defaults) and clean failures on bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/version.h"
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

// The default 512-token prefill on a model whose context is 512 tokens: the
// prompt is cut to leave the one generated token a position.
TEST(Cli, BenchFitsThePrefillIntoTheContext) {
  SLKV_REQUIRE_SHARED();
  auto result = run_slkv("bench " + model_flag() + " --threads 1 --decode-tokens 4 --reps 1 --llamacpp '' --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto out = nlohmann::json::parse(result.output);
  EXPECT_EQ(out["prefill_tokens"], 511);
  EXPECT_GT(out["prefill_tok_s"].get<double>(), 0.0);
  EXPECT_GT(out["memory_read_streams_per_thread"].get<int>(), 0);
  // Two bandwidth readings (after decode, after llama.cpp's run), the higher reported.
  const auto readings = out["memory_read_gbps_readings"].get<std::vector<double>>();
  ASSERT_EQ(readings.size(), 2u);
  EXPECT_GT(readings[0], 0.0);
  EXPECT_EQ(out["memory_read_gbps"].get<double>(), std::max(readings[0], readings[1]));
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
  // Refused before the prompt is echoed: nothing on stdout.
  auto stdout_only = run_slkv("generate " + model_flag() + " --prompt '" + prompt + "'");
  EXPECT_EQ(stdout_only.exit_code, 1);
  EXPECT_EQ(stdout_only.output, "");
}

TEST(Cli, ARandomSeedIsPrintedSoTheRunCanBeRepeated) {
  SLKV_REQUIRE_SHARED();
  const std::string args = "generate " + model_flag() + " --prompt 'Once upon a time' --temperature 1 --max-new-tokens 12";
  const auto first = run_slkv(args, true);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const size_t at = first.output.find("[seed ");
  ASSERT_NE(at, std::string::npos) << first.output;
  const std::string seed = first.output.substr(at + 6, first.output.find(']', at) - at - 6);
  // The printed seed reproduces the first run's text.
  const size_t text_at = first.output.find("Once upon a time");
  ASSERT_NE(text_at, std::string::npos) << first.output;
  const std::string text = first.output.substr(text_at, first.output.find('\n', text_at) - text_at);
  EXPECT_EQ(run_slkv(args + " --seed " + seed).output, text + "\n");
  // Greedy runs draw nothing: no seed line.
  EXPECT_EQ(run_slkv("generate " + model_flag() + " --prompt Once --temperature 0 --max-new-tokens 3", true)
                .output.find("[seed "),
            std::string::npos);
}

TEST(Cli, LayerScoresAreProbabilities) {
  SLKV_REQUIRE_SHARED();
  // Windows wider than the prompt: every score is the whole attention mass, 1 up to rounding.
  auto result = run_slkv("generate " + model_flag() +
                         " --prompt 'Once upon a time there was a cat' --max-new-tokens 2 --json --recent 64");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json out = nlohmann::json::parse(result.output);
  ASSERT_EQ(out["kv"]["layer_scores"].size(), 5u);
  for (const auto& score : out["kv"]["layer_scores"]) {
    EXPECT_GE(score.get<double>(), 0.0);
    EXPECT_LE(score.get<double>(), 1.0);
    EXPECT_NEAR(score.get<double>(), 1.0, 1e-5);
  }
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

namespace slkv {
namespace {

// A copy of stories260K whose generation_config.json is `generation_config`
// and whose config.json has `config_changes` applied.
void copy_stories(const std::filesystem::path& dir, const std::string& generation_config,
                  const nlohmann::json& config_changes = nlohmann::json::object()) {
  for (const char* name : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(testing::stories_dir() / name, dir / name);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(testing::stories_dir() / "config.json"));
  config.update(config_changes);
  std::ofstream(dir / "config.json") << config.dump(2);
  std::ofstream(dir / "generation_config.json") << generation_config;
}

// Expects exit code `code` and every one of `needles` in the merged output.
void expect_failure(const std::string& arguments, int code, const std::vector<std::string>& needles,
                    const std::string& stdin_text = "") {
  auto result = run_slkv(arguments, /*merge_stderr=*/true, stdin_text);
  EXPECT_EQ(result.exit_code, code) << arguments << ": " << result.output;
  for (const std::string& needle : needles)
    EXPECT_NE(result.output.find(needle), std::string::npos) << arguments << ": " << needle << " in " << result.output;
}

TEST(CliUsage, StrayWordsAreRefusedNotDropped) {
  SLKV_REQUIRE_SHARED();
  // Unquoted, "upon a time" used to be dropped silently.
  expect_failure("generate " + model_flag() + " --prompt Once upon a time --max-new-tokens 1", 2,
                 {"unexpected argument 'upon'", "quote a value that contains spaces", "slkv generate --help"});
  expect_failure("tokenize " + model_flag() + " extra", 2, {"unexpected argument 'extra'"}, "hi");
  expect_failure("inspect " + model_flag() + " -- more", 2, {"unexpected argument 'more'"});
  // A missing required flag is a usage error too.
  expect_failure("generate --prompt hi", 2, {"--model DIR is required"});
  // Quoted, the same words are one prompt.
  auto quoted = run_slkv("generate " + model_flag() + " --prompt 'Once upon a time' --max-new-tokens 1 --json");
  ASSERT_EQ(quoted.exit_code, 0) << quoted.output;
  EXPECT_EQ(nlohmann::json::parse(quoted.output)["prompt_tokens"], 5);
}

TEST(CliUsage, VersionIsPrintedAndListed) {
  for (const char* arguments : {"--version", "version"}) {
    auto result = run_slkv(arguments);
    EXPECT_EQ(result.exit_code, 0) << arguments;
    EXPECT_EQ(result.output, "slkv " + std::string(kVersion) + "\n") << arguments;
  }
  auto usage = run_slkv("--help");
  EXPECT_EQ(usage.exit_code, 0);
  EXPECT_NE(usage.output.find("slkv --version"), std::string::npos) << usage.output;
}

TEST(CliUsage, FilesystemErrorsNameThePathNotAnInternalError) {
  testing::ScratchDir dir("slkv_cli_fs");
  const auto file = dir.path() / "regular";
  std::ofstream(file) << "not a directory";
  const std::string out = (file / "model").string();
  auto result = run_slkv("make-test-model --out '" + out + "' --hidden 16 --layers 1 --heads 2 --kv-heads 1 --ffn 32 "
                         "--vocab 300 --context 64", true);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output.rfind("error: " + out + ": ", 0), 0u) << result.output;
  EXPECT_NE(result.output.find("Not a directory"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("internal"), std::string::npos) << result.output;
}

TEST(CliInput, InvalidUtf8IsRefusedInEveryPromptSource) {
  SLKV_REQUIRE_SHARED();
  // printf's octal escapes put the raw bytes on the command line (popen runs /bin/sh).
  expect_failure("generate " + model_flag() + " --prompt \"$(printf 'ab\\377c')\"", 1,
                 {"--prompt: not valid UTF-8 (byte 0xFF at offset 2)"});
  expect_failure("bench " + model_flag() + " --prompt \"$(printf '\\303(')\"", 1, {"--prompt: not valid UTF-8"});
  auto prompts = temp_file("utf8.jsonl", "\"fine\"\n\"bad \xC3\x28\"\n");
  expect_failure("generate " + model_flag() + " --prompts-file '" + prompts.string() + "'", 1,
                 {prompts.string() + ":2: not valid UTF-8 (byte 0xC3 at offset 5)"});
  auto plain = temp_file("utf8.txt", "plain text \xFF\n");
  expect_failure("analyze-layers " + model_flag() + " --input '" + plain.string() + "'", 1,
                 {plain.string() + ":1: not valid UTF-8"});
  // Valid multi-byte text passes.
  auto result = run_slkv("generate " + model_flag() + " --prompt 'caf\xC3\xA9 \xE2\x82\xAC' --max-new-tokens 1 --json");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::filesystem::remove(prompts);
  std::filesystem::remove(plain);
}

TEST(CliInput, PromptsFileDashReadsStandardInput) {
  SLKV_REQUIRE_SHARED();
  const std::string content = "\"Lily went to the park\"\n\n\"Zoo\"\n";
  auto file = temp_file("stdin_prompts.jsonl", content);
  const std::string flags = " --max-new-tokens 8 --json --seed 1";
  auto from_file = run_slkv("generate " + model_flag() + " --prompts-file '" + file.string() + "'" + flags);
  auto from_stdin = run_slkv("generate " + model_flag() + " --prompts-file -" + flags, false, content);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.output;
  std::istringstream file_lines(from_file.output), stdin_lines(from_stdin.output);
  std::string file_line, stdin_line;
  int lines = 0;
  while (std::getline(stdin_lines, stdin_line)) {
    ASSERT_TRUE(std::getline(file_lines, file_line));
    EXPECT_EQ(nlohmann::json::parse(stdin_line)["tokens"], nlohmann::json::parse(file_line)["tokens"]);
    ++lines;
  }
  EXPECT_EQ(lines, 2);
  // Errors name <stdin> and the line.
  expect_failure("generate " + model_flag() + " --prompts-file -", 1, {"<stdin>:2: expected a JSON string"},
                 "\"ok\"\n42\n");
  // analyze-layers reads its --input the same way.
  auto analyzed = run_slkv("analyze-layers " + model_flag() + " --input - --obs-window 2 --json", false,
                           "Once upon a time there was a dog\n");
  ASSERT_EQ(analyzed.exit_code, 0) << analyzed.output;
  EXPECT_EQ(nlohmann::json::parse(analyzed.output)["prompts"], 1);
  std::filesystem::remove(file);
}

TEST(CliInput, LazyThresholdMustBeAProbability) {
  SLKV_REQUIRE_SHARED();
  for (const char* value : {"1.5", "-0.1", "2"})
    expect_failure("generate " + model_flag() + " --prompt hi --max-new-tokens 1 --lazy-threshold " + value, 1,
                   {"--lazy-threshold must be in [0, 1], got " + std::string(value)});
  for (const char* value : {"0", "1"}) {
    auto result = run_slkv("generate " + model_flag() + " --prompt hi --max-new-tokens 1 --lazy-threshold " +
                           std::string(value));
    EXPECT_EQ(result.exit_code, 0) << value;
  }
}

TEST(CliInput, GenerationConfigErrorsNameTheFileAndField) {
  SLKV_REQUIRE_SHARED();
  struct Case {
    std::string generation_config;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"do_sample": true, "temperature": -1})", "\"temperature\" must be a finite number >= 0"},
      {R"({"do_sample": true, "top_p": 2})", "\"top_p\" must be in (0, 1]"},
      {R"({"do_sample": true, "top_k": -5})", "\"top_k\" must be >= 0"},
      {R"({"do_sample": "yes"})", "\"do_sample\" must be true or false"},
      {R"({"do_sample": false, "temperature": "hot"})", "\"temperature\" must be a number"},
      {R"({"top_k": 5.5})", "\"top_k\" must be an integer"},
      {R"({"top_p": [1]})", "\"top_p\" must be a number"},
  };
  for (const Case& c : cases) {
    testing::ScratchDir dir("slkv_cli_generation_config");
    copy_stories(dir.path(), c.generation_config);
    auto result = run_slkv("generate --model '" + dir.path().string() + "' --prompt hi --max-new-tokens 1", true);
    EXPECT_EQ(result.exit_code, 1) << c.generation_config << ": " << result.output;
    EXPECT_NE(result.output.find((dir.path() / "generation_config.json").string() + ": field " + c.field),
              std::string::npos)
        << c.generation_config << ": " << result.output;
    EXPECT_EQ(result.output.find("--"), std::string::npos) << "names a flag: " << result.output;
  }
  // Sampling fields that do_sample leaves unused may hold any number; null means absent.
  testing::ScratchDir dir("slkv_cli_generation_config");
  copy_stories(dir.path(), R"({"do_sample": false, "temperature": -1, "top_p": null})");
  EXPECT_EQ(run_slkv("generate --model '" + dir.path().string() + "' --prompt hi --max-new-tokens 1").exit_code, 0);
}

TEST(CliInput, AbsurdConfigDimensionIsRefusedByName) {
  SLKV_REQUIRE_SHARED();
  testing::ScratchDir dir("slkv_cli_config");
  copy_stories(dir.path(), "{}", {{"num_hidden_layers", int64_t{1} << 31}});
  expect_failure("inspect --model '" + dir.path().string() + "'", 1,
                 {"config.json: field \"num_hidden_layers\" is 2147483648, more than slkv supports"});
}

// Options of a --help text: name -> description (wrapped lines joined).
std::map<std::string, std::string> help_options(const std::string& help) {
  std::map<std::string, std::string> options;
  std::istringstream lines(help);
  std::string line, current;
  while (std::getline(lines, line)) {
    const size_t dashes = line.find("--");
    const size_t first = line.find_first_not_of(' ');
    if (dashes != std::string::npos && first != std::string::npos && (first == dashes || line[first] == '-') &&
        dashes < 12) {
      const size_t end = line.find(' ', dashes);
      current = line.substr(dashes + 2, end - dashes - 2);
      // Only options that take a value can have a default ("arg" follows the name).
      if (end == std::string::npos || line.compare(end, 4, " arg") != 0) {
        current.clear();
        continue;
      }
      options[current] = line.substr(end + 4);
    } else if (!current.empty() && first != std::string::npos && first > 12) {
      // cxxopts leaves a space at the end of a wrapped line: join with exactly one.
      std::string& text = options[current];
      text.erase(text.find_last_not_of(' ') + 1);
      text += " " + line.substr(first);
    } else {
      current.clear();
    }
  }
  return options;
}

TEST(CliUsage, HelpShowsEveryDefault) {
  // Options without a default: required inputs and opt-in outputs.
  const std::set<std::string> no_default = {"model", "prompt",  "prompts-file", "prompt-ids", "out",
                                            "input", "dump-decisions", "data", "script", "system"};
  for (const char* command : {"generate", "tokenize", "inspect", "make-test-model", "bench", "analyze-layers",
                              "bench-kv", "bench-decode", "chat", "render-chat"}) {
    auto result = run_slkv(std::string(command) + " --help");
    ASSERT_EQ(result.exit_code, 0) << command;
    const auto options = help_options(result.output);
    EXPECT_FALSE(options.empty()) << command << ": " << result.output;  // the parsing found the options
    for (const auto& [name, text] : options) {
      if (no_default.count(name)) continue;
      EXPECT_NE(text.find("(default:"), std::string::npos) << command << " --" << name << ": " << text;
    }
  }
}

TEST(CliUsage, HelpKvDefaultsMatchThePresets) {
  auto help = run_slkv("generate --help");
  const auto options = help_options(help.output);
  const nlohmann::json presets =
      nlohmann::json::parse(std::ifstream(std::filesystem::path(SLKV_SOURCE_DIR) / "configs" / "simlayerkv.json"));
  auto shown = [](const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); };
  for (const auto& [key, value] : presets["defaults"].items()) {
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    ASSERT_TRUE(options.count(flag)) << flag;
    EXPECT_NE(options.at(flag).find("(default: preset " + shown(value) + ")"), std::string::npos)
        << flag << ": " << options.at(flag);
  }
  for (const auto& [family, preset] : presets["families"].items())
    EXPECT_NE(options.at("lazy-threshold").find(family + " " + shown(preset["threshold"])), std::string::npos)
        << family << ": " << options.at("lazy-threshold");
  // The thread count's default is this machine's: the help says so.
  EXPECT_NE(options.at("threads").find("one per core"), std::string::npos) << options.at("threads");
}

}  // namespace
}  // namespace slkv
