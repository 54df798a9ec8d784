// slkv eval ruler: RULER's string_match_all on hand cases, and the command
// through the binary on the shared RULER file with stories260K.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/text_file.h"
#include "launch/eval/ruler_metric.h"
#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::run_slkv;

std::filesystem::path ruler_file() { return testing::shared_dir() / "data" / "ruler" / "niah_multikey_3.4096.jsonl"; }

std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path dir = testing::temp_path(name);
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(RulerMetric, MatchesCaseInsensitiveSubstrings) {
  EXPECT_DOUBLE_EQ(string_match_all_row("The magic number is 1234567.", {"1234567"}), 1.0);
  EXPECT_DOUBLE_EQ(string_match_all_row("ABC-def is the UUID", {"abc-DEF"}), 1.0);
  EXPECT_DOUBLE_EQ(string_match_all_row("123456", {"1234567"}), 0.0);  // a prefix of the answer is not enough
}

TEST(RulerMetric, CountsEachOutputOfARow) {
  EXPECT_DOUBLE_EQ(string_match_all_row("numbers: 11, 22", {"11", "22", "33", "44"}), 0.5);
  EXPECT_DOUBLE_EQ(string_match_all_row("44 33 22 11", {"11", "22", "33", "44"}), 1.0);
  // Rows: 1, 0.5, 0 -> mean 0.5 -> 50.
  EXPECT_DOUBLE_EQ(string_match_all({"a b", "a", "z"}, {{"A", "B"}, {"a", "b"}, {"a"}}), 50.0);
  // Two decimals: (1/3 + 0 + 0) / 3 = 11.111... -> 11.11.
  EXPECT_DOUBLE_EQ(string_match_all({"x", "", ""}, {{"x", "y", "z"}, {"x"}, {"x"}}), 11.11);
}

TEST(RulerMetric, EmptyPredictionsScoreZero) {
  EXPECT_DOUBLE_EQ(string_match_all_row("", {"1234"}), 0.0);
  EXPECT_DOUBLE_EQ(string_match_all({"", ""}, {{"a"}, {"b"}}), 0.0);
  EXPECT_DOUBLE_EQ(string_match_all({}, {}), 0.0);
}

TEST(RulerMetric, PostprocessTurnsControlCharactersIntoNewlinesAndStrips) {
  EXPECT_EQ(ruler_postprocess("  \tabc\x01" "def\x1f\n "), "abc\ndef");
  EXPECT_EQ(ruler_postprocess(""), "");
}

TEST(RulerCli, ScoresTheFirstRowsOfTheSharedFile) {
  SLKV_REQUIRE_SHARED();
  if (!std::filesystem::exists(ruler_file())) GTEST_SKIP() << ruler_file() << " not found";
  const std::filesystem::path out = fresh_dir("ruler_cli");
  const auto run = run_slkv("eval ruler --model " + testing::stories_dir().string() + " --data " +
                                ruler_file().string() + " --limit 3 --max-new-tokens 16 --threads 1 --out " +
                                out.string(),
                            /*merge_stderr=*/true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // ~3200 Llama tokens each: far past stories260K's 512-token context.
  EXPECT_NE(run.output.find("3 of 3 rows are longer than 496 tokens: cut in the middle"), std::string::npos)
      << run.output;
  std::vector<nlohmann::json> lines;
  std::ifstream in(out / "niah_multikey_3.4096.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["index"], i);
    EXPECT_TRUE(lines[i]["pred"].is_string());
    EXPECT_EQ(lines[i]["outputs"].size(), 1u);
    EXPECT_TRUE(lines[i]["length"].is_number_integer());
    EXPECT_EQ(lines[i]["prompt_tokens"], 496);
    EXPECT_EQ(lines[i]["truncated"], true);
    EXPECT_TRUE(lines[i]["kv"].contains("compression_ratio"));
  }
  const nlohmann::json result = nlohmann::json::parse(read_text_file(out / "result.json"));
  ASSERT_TRUE(result.contains("simlayerkv")) << result.dump();
  EXPECT_EQ(result["simlayerkv"]["rows"], 3);
  EXPECT_GE(result["simlayerkv"]["string_match_all"].get<double>(), 0.0);
  EXPECT_LE(result["simlayerkv"]["string_match_all"].get<double>(), 100.0);
  EXPECT_GE(result["simlayerkv"]["compression_ratio"].get<double>(), 1.0);
  EXPECT_NE(run.output.find("simlayerkv"), std::string::npos);
}

TEST(RulerCli, NamesTheLineOfARowMissingAField) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path data = testing::temp_path("ruler_bad.jsonl");
  std::ofstream(data) << R"({"index": 0, "input": "a", "outputs": ["b"], "length": 1})" "\n"
                      << R"({"index": 1, "input": "a", "length": 1})" "\n";
  const auto run = run_slkv("eval ruler --model " + testing::stories_dir().string() + " --data " + data.string() +
                                " --out " + fresh_dir("ruler_bad").string(),
                            /*merge_stderr=*/true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find(data.string() + ":2: the row has no non-empty list 'outputs'"), std::string::npos)
      << run.output;
}

}  // namespace
}  // namespace slkv
