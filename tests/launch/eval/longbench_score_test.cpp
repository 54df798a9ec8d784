// Scoring a prediction directory: eval.py's means and rounding, LongBench-E
// buckets, the layouts, file errors, and `slkv eval score` end to end.
#include "launch/eval/longbench_score.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text_file.h"
#include "launch/eval/chinese_segmenter.h"
#include "launch/eval/eval_score_command.h"
#include "tests/test_support.h"

namespace slkv::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json row(int index, const std::string& pred, const std::vector<std::string>& answers, int length, double ratio,
         const json& all_classes = nullptr) {
  return {{"pred", pred}, {"answers", answers}, {"all_classes", all_classes}, {"length", length},
          {"kv", {{"kv_bytes", 10}, {"compression_ratio", ratio}}}, {"index", index}, {"_id", "id" + std::to_string(index)}};
}

void write_rows(const fs::path& path, const std::vector<json>& rows) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  for (const json& r : rows) out << r.dump() << "\n";
}

std::string error_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LongBenchScore, MeansAndRoundingFollowEvalPy) {
  EXPECT_EQ(longbench_mean_score({1.0, 0.0, 0.5}), 50.0);
  EXPECT_EQ(longbench_mean_score({2.0 / 3.0}), 66.67);
  // 100 * sum / n is 46.874999999999986 summed in order (Python: 46.87), while
  // numpy's pairwise mean gives exactly 46.875, which its round takes to 46.88.
  const std::vector<double> scores{0.5, 2.0 / 3, 1, 0, 2.0 / 3, 1.0 / 3, 1, 0, 1.0 / 3, 1.0 / 3, 0.5, 1, 1.0 / 3, 0.5, 0,
                                   1.0 / 3};
  EXPECT_EQ(longbench_mean_score(scores), 46.87);
  EXPECT_EQ(longbench_bucket_score(scores).value(), 46.88);
  EXPECT_FALSE(longbench_bucket_score({}).has_value());
  EXPECT_EQ(length_bucket(3999), 0u);
  EXPECT_EQ(length_bucket(4000), 1u);
  EXPECT_EQ(length_bucket(7999), 1u);
  EXPECT_EQ(length_bucket(8000), 2u);
}

std::string python_with_numpy() {
  for (const std::string python : {"/usr/bin/python3", "python3"})
    if (std::system((python + " -c 'import numpy' > /dev/null 2>&1").c_str()) == 0) return python;
  return "";
}

TEST(LongBenchScore, AggregatesAgreeWithPythonAndNumpy) {
  const std::string python = python_with_numpy();
  if (python.empty()) GTEST_SKIP() << "python3 with numpy is needed for the oracle (Debian: python3-numpy)";
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::vector<double> common{0.0, 1.0, 0.5, 1.0 / 3, 2.0 / 3, 0.25, 0.2};
  json lists = json::array();
  for (int i = 0; i < 300; ++i) {
    const size_t n = 1 + rng() % (i % 10 == 0 ? 700 : 40);
    std::vector<double> scores;
    for (size_t k = 0; k < n; ++k) scores.push_back(rng() % 2 ? common[rng() % common.size()] : uniform(rng));
    lists.push_back(scores);
  }
  testing::ScratchDir dir("longbench_round_oracle");
  std::ofstream(dir.path() / "lists.json") << lists.dump();
  std::ofstream(dir.path() / "oracle.py") << "import json, sys\nimport numpy as np\n"
                                             "out = []\n"
                                             "for l in json.load(open(sys.argv[1])):\n"
                                             "    total = 0.\n"
                                             "    for s in l: total += s\n"
                                             "    out.append([round(100 * total / len(l), 2), float(round(100 * np.mean(l), 2))])\n"
                                             "json.dump(out, open(sys.argv[2], 'w'))\n";
  const std::string command = python + " '" + (dir.path() / "oracle.py").string() + "' '" +
                              (dir.path() / "lists.json").string() + "' '" + (dir.path() / "out.json").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const json expected = json::parse(read_text_file(dir.path() / "out.json"));
  int mismatches = 0;
  for (size_t i = 0; i < lists.size(); ++i) {
    const std::vector<double> scores = lists[i].get<std::vector<double>>();
    const double mean = longbench_mean_score(scores), bucket = longbench_bucket_score(scores).value();
    if ((mean != expected[i][0].get<double>() || bucket != expected[i][1].get<double>()) && ++mismatches <= 3)
      ADD_FAILURE() << "list " << i << " (" << scores.size() << " scores): ours " << mean << ", " << bucket
                    << "; Python " << expected[i].dump();
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(LongBenchScore, PredictionFileErrorsNameFileAndLine) {
  testing::ScratchDir dir("longbench_rows");
  const fs::path path = dir.path() / "qasper.jsonl";
  json missing = row(1, "p", {"a"}, 10, 1.0);
  missing.erase("pred");
  write_rows(path, {row(0, "p", {"a"}, 10, 1.0), missing});
  std::string message = error_of([&] { read_prediction_rows(path); });
  EXPECT_NE(message.find("qasper.jsonl:2"), std::string::npos) << message;
  EXPECT_NE(message.find("\"pred\""), std::string::npos) << message;

  json bad_answers = row(1, "p", {"a"}, 10, 1.0);
  bad_answers["answers"] = "a";
  write_rows(path, {bad_answers});
  message = error_of([&] { read_prediction_rows(path); });
  EXPECT_NE(message.find("qasper.jsonl:1: field \"answers\""), std::string::npos) << message;

  json no_ratio = row(0, "p", {"a"}, 10, 1.0);
  no_ratio["kv"].erase("compression_ratio");
  write_rows(path, {no_ratio});
  EXPECT_NE(error_of([&] { read_prediction_rows(path); }).find("compression_ratio"), std::string::npos);

  write_rows(path, {row(0, "p", {"a"}, 10, 1.0), row(0, "q", {"a"}, 10, 1.0)});
  EXPECT_NE(error_of([&] { read_prediction_rows(path); }).find("qasper.jsonl:2: index 0 already at"),
            std::string::npos);

  std::ofstream(path, std::ios::binary) << row(0, "p", {"a"}, 10, 1.0).dump() << "\n{\"pred\": \n";
  EXPECT_NE(error_of([&] { read_prediction_rows(path); }).find("qasper.jsonl:2: not valid JSON"), std::string::npos);

  // Rows come back in index order.
  write_rows(path, {row(2, "c", {"a"}, 10, 1.0), row(0, "a", {"a"}, 10, 1.0), row(1, "b", {"a"}, 10, 1.0)});
  const std::vector<PredictionRow> rows = read_prediction_rows(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].prediction + rows[1].prediction + rows[2].prediction, "abc");
  EXPECT_EQ(rows[2].where, path.string() + ":1");
}

TEST(LongBenchScore, FindsPoliciesByLayout) {
  testing::ScratchDir dir("longbench_layout");
  EXPECT_NE(error_of([&] { find_policy_dirs(dir.path()); }).find("no prediction files"), std::string::npos);

  write_rows(dir.path() / "qasper.jsonl", {row(0, "p", {"a"}, 10, 1.0)});
  bool per_policy = true;
  std::vector<PolicyDir> dirs = find_policy_dirs(dir.path(), &per_policy);
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs[0].policy, "default");
  EXPECT_FALSE(per_policy);
  std::ofstream(dir.path() / "run.json") << R"({"policies": ["simlayerkv"], "layout": "flat"})";
  EXPECT_EQ(find_policy_dirs(dir.path())[0].policy, "simlayerkv");

  // Both layouts: run.json's "layout" decides; without it, an error.
  write_rows(dir.path() / "b_policy" / "qasper.jsonl", {row(0, "p", {"a"}, 10, 1.0)});
  write_rows(dir.path() / "a_policy" / "qasper.jsonl", {row(0, "p", {"a"}, 10, 1.0)});
  EXPECT_EQ(find_policy_dirs(dir.path())[0].policy, "simlayerkv");
  std::ofstream(dir.path() / "run.json") << R"({"policies": ["b_policy"], "layout": "per-policy"})";
  dirs = find_policy_dirs(dir.path(), &per_policy);
  EXPECT_TRUE(per_policy);
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0].policy, "b_policy");  // run.json's order, then by name
  EXPECT_EQ(dirs[1].policy, "a_policy");
  fs::remove(dir.path() / "run.json");
  EXPECT_NE(error_of([&] { find_policy_dirs(dir.path()); }).find("both"), std::string::npos);
}

TEST(LongBenchScore, UnknownDatasetFileAndEmptyFileAreErrors) {
  testing::ScratchDir dir("longbench_unknown");
  write_rows(dir.path() / "squad.jsonl", {row(0, "p", {"a"}, 10, 1.0)});
  const std::string message = error_of([&] { score_longbench_dir(dir.path()); });
  EXPECT_NE(message.find("squad.jsonl"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown LongBench dataset 'squad'"), std::string::npos) << message;
  fs::remove(dir.path() / "squad.jsonl");
  std::ofstream(dir.path() / "qasper.jsonl") << "\n";
  EXPECT_NE(error_of([&] { score_longbench_dir(dir.path()); }).find("holds no predictions"), std::string::npos);
  write_rows(dir.path() / "qasper.jsonl", {});
  fs::remove(dir.path() / "qasper.jsonl");
  write_rows(dir.path() / "trec.jsonl", {row(0, "Sports", {"Sports"}, 10, 1.0)});
  EXPECT_NE(error_of([&] { score_longbench_dir(dir.path()); }).find("all_classes"), std::string::npos);
}

// Runs `slkv eval score` in this process; returns what it printed.
std::string run_score_command(std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), "slkv eval score");
  std::vector<char*> argv;
  for (std::string& a : arguments) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  const int code = run_eval_score(static_cast<int>(argv.size()), argv.data());
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  return out;
}

TEST(LongBenchScore, ScoreCommandWithTwoPolicies) {
  testing::ScratchDir dir("longbench_two_policies");
  const fs::path out = dir.path();
  std::ofstream(out / "run.json") << R"({"policies": ["full", "simlayerkv"], "layout": "per-policy"})";
  const json trec_classes = {"Sports", "Weather", "Money"};
  // full: qasper rows score 1 and f1("cat dog", "cat") = 2/3 -> 83.33.
  write_rows(out / "full" / "qasper.jsonl", {row(0, "The cat.", {"cat", "dog"}, 100, 1.0),
                                             row(1, "cat dog", {"cat"}, 100, 1.0)});
  // trec: first line "Sports" of "\nSports\nWeather" -> 1; "Money" vs "Weather" -> 0 -> 50.
  write_rows(out / "full" / "trec.jsonl", {row(0, "\nSports\nWeather", {"Sports"}, 100, 1.0, trec_classes),
                                           row(1, "Money", {"Weather"}, 100, 1.0, trec_classes)});
  // qasper_e: 0-4k {1, 0} -> 50; 4-8k empty -> null; 8k+ {1} -> 100.
  write_rows(out / "full" / "qasper_e.jsonl", {row(0, "cat", {"cat"}, 3999, 1.0), row(1, "dog", {"cat"}, 10, 1.0),
                                               row(2, "cat", {"cat"}, 8000, 1.0)});
  // simlayerkv: qasper 0 and 100 -> 50; retrieval 1/2 -> 50; compression 2 and 4 and 3 -> 3.
  write_rows(out / "simlayerkv" / "qasper.jsonl", {row(1, "x", {"cat"}, 100, 2.0), row(0, "cat", {"cat"}, 100, 4.0)});
  write_rows(out / "simlayerkv" / "passage_retrieval_en.jsonl",
             {row(0, "Paragraph 2 or Paragraph 5", {"Paragraph 5"}, 100, 3.0)});

  const std::string printed = run_score_command({"--out", out.string()});
  const json full = json::parse(read_text_file(out / "full" / "result.json"));
  const json expected_full = json::parse(R"({"qasper": 83.33, "trec": 50.0,
                                             "qasper_e": {"0-4k": 50.0, "4-8k": null, "8k+": 100.0}})");
  EXPECT_EQ(full, expected_full) << full.dump();
  const json simlayerkv = json::parse(read_text_file(out / "simlayerkv" / "result.json"));
  EXPECT_EQ(simlayerkv, json::parse(R"({"qasper": 50.0, "passage_retrieval_en": 50.0})")) << simlayerkv.dump();
  const json all = json::parse(read_text_file(out / "result.json"));
  EXPECT_EQ(all, (json{{"full", expected_full}, {"simlayerkv", simlayerkv}})) << all.dump();
  // Keys in LongBench's order, as written.
  const std::string text = read_text_file(out / "full" / "result.json");
  EXPECT_LT(text.find("\"qasper\""), text.find("\"qasper_e\""));
  EXPECT_LT(text.find("\"qasper_e\""), text.find("\"trec\""));

  // The table: columns in LongBench's order, Avg over the plain datasets
  // ((83.33 + 50) / 2 is 66.66499.. in binary), CR.
  EXPECT_NE(printed.find("policy      qasper   trec  passage_retrieval_en    Avg    CR\n"
                         "full         83.33  50.00                     -  66.66  1.00\n"
                         "simlayerkv   50.00      -                 50.00  50.00  3.00\n"),
            std::string::npos)
      << printed;
  // LongBench-E: a row per policy and bucket; an empty bucket is "-".
  EXPECT_NE(printed.find("policy      length  qasper_e     Avg\n"
                         "full          0-4k     50.00   50.00\n"
                         "full          4-8k         -       -\n"
                         "full           8k+    100.00  100.00\n"
                         "simlayerkv    0-4k         -       -\n"),
            std::string::npos)
      << printed;
}

TEST(LongBenchScore, ScoreCommandFlatDirectory) {
  testing::ScratchDir dir("longbench_flat");
  std::ofstream(dir.path() / "run.json") << R"({"policies": ["simlayerkv"], "layout": "flat"})";
  write_rows(dir.path() / "passage_count.jsonl", {row(0, "3 4", {"4"}, 100, 2.5), row(1, "4", {"4"}, 100, 1.5)});
  write_rows(dir.path() / "lcc.jsonl", {row(0, "# c\ny = 2;", {"y = 3;"}, 100, 2.0)});
  const std::string printed = run_score_command({"--out", dir.path().string()});
  const json result = json::parse(read_text_file(dir.path() / "result.json"));
  EXPECT_EQ(result, json::parse(R"({"passage_count": 75.0, "lcc": 83.0})")) << result.dump();
  EXPECT_NE(printed.find("simlayerkv"), std::string::npos) << printed;
  EXPECT_NE(printed.find("79.00  2.00"), std::string::npos) << printed;  // Avg (75 + 83) / 2; CR (2.5 + 1.5 + 2) / 3
  EXPECT_EQ(printed.find("LongBench-E"), std::string::npos) << printed;
}

TEST(LongBenchScore, ScoreCommandChineseDatasetUsesJieba) {
  try {
    ChineseSegmenter().prepare({"北京"});
  } catch (const Error& e) {
    GTEST_SKIP() << "jieba unavailable: " << e.what();
  }
  testing::ScratchDir dir("longbench_chinese");
  // 今天天气/不错 exactly -> 1; 我们/去/公园/散步 against 我们/去/公园 -> 6/7: mean 92.857 -> 92.86.
  write_rows(dir.path() / "multifieldqa_zh.jsonl",
             {row(0, "今天天气不错", {"今天天气不错"}, 100, 1.0), row(1, "我们去公园散步", {"我们去公园"}, 100, 1.0)});
  // Same words, one sentence: rouge-L F = 2 * ((1 * 1) / (2 + 1e-8)).
  write_rows(dir.path() / "dureader.jsonl", {row(0, "我们去公园", {"我们去公园"}, 100, 1.0)});
  run_score_command({"--out", dir.path().string()});
  const json result = json::parse(read_text_file(dir.path() / "result.json"));
  EXPECT_EQ(result["multifieldqa_zh"], 92.86) << result.dump();
  EXPECT_EQ(result["dureader"], 100.0) << result.dump();
}

TEST(LongBenchScore, ScoreCommandHelpAndMissingOut) {
  const std::string help = run_score_command({"--help"});
  EXPECT_NE(help.find("--out"), std::string::npos);
  std::vector<std::string> arguments{"slkv eval score"};
  std::vector<char*> argv{arguments[0].data()};
  EXPECT_THROW(run_eval_score(1, argv.data()), UsageError);
}

}  // namespace
}  // namespace slkv::eval
