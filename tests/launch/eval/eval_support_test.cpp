// The evaluation tasks' plumbing: resumable prediction files, the progress
// line, the per-policy output layout and SCBench's rows and scoring.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/text_file.h"
#include "launch/eval/eval_output.h"
#include "launch/eval/prediction_file.h"
#include "launch/eval/progress_line.h"
#include "launch/eval/scbench_rows.h"
#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

TEST(EvalPredictionFile, KeepsCompleteLinesCutsATornOneAndAppends) {
  const std::filesystem::path path = testing::temp_path("eval_pred") / "task.jsonl";
  std::filesystem::remove_all(path.parent_path());
  {
    PredictionFile file(path);
    EXPECT_EQ(file.rows(), 0);
    file.append({{"index", 0}, {"pred", "a"}});
    file.append({{"index", 2}, {"pred", "c"}});
  }
  std::ofstream(path, std::ios::app) << "{\"index\": 3, \"pre";  // killed mid-write
  PredictionFile resumed(path);
  EXPECT_EQ(resumed.rows(), 2);
  EXPECT_TRUE(resumed.has(0));
  EXPECT_FALSE(resumed.has(1));
  EXPECT_TRUE(resumed.has(2));
  EXPECT_FALSE(resumed.has(3));
  resumed.append({{"index", 3}, {"pred", "d"}});
  EXPECT_EQ(read_text_file(path), "{\"index\":0,\"pred\":\"a\"}\n{\"index\":2,\"pred\":\"c\"}\n{\"index\":3,\"pred\":\"d\"}\n");
}

TEST(EvalPredictionFile, RefusesALineThatIsNotAPrediction) {
  const std::filesystem::path path = testing::temp_path("eval_pred_bad.jsonl");
  std::ofstream(path) << "{\"index\": 0}\nnot json\n";
  try {
    PredictionFile file(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eval_pred_bad.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(EvalProgressLine, ShowsRowsRateAndEta) {
  EXPECT_EQ(ProgressLine::format("longbench x", 0, 10, 0, "rows"), "longbench x: 0/10 rows");
  EXPECT_EQ(ProgressLine::format("t", 5, 10, 10, "rows"), "t: 5/10 rows, 0.50 rows/s, ETA 10s");
  EXPECT_EQ(ProgressLine::format("t", 1, 200, 2, "rows"), "t: 1/200 rows, 0.50 rows/s, ETA 6m38s");
  EXPECT_EQ(ProgressLine::format("t", 10, 10, 4, "rows"), "t: 10/10 rows, 2.50 rows/s");
}

TEST(EvalOutput, OnePolicyWritesFlatSeveralGetTheirOwnDirectories) {
  KvPolicyConfig full, sim;
  sim.kind = KvPolicyKind::SimLayerKV;
  EXPECT_EQ(policy_output_dir("out", {sim}, sim), "out");
  EXPECT_EQ(policy_output_dir("out", {full, sim}, sim), std::filesystem::path("out") / "simlayerkv");
  const std::filesystem::path dir = testing::temp_path("eval_run");
  write_run_file(dir, {full, sim}, {{"model", "m"}});
  const nlohmann::json run = nlohmann::json::parse(read_text_file(dir / "run.json"));
  EXPECT_EQ(run["policies"], nlohmann::json({"full", "simlayerkv"}));
  EXPECT_EQ(run["layout"], "per-policy");
  EXPECT_EQ(run["model"], "m");
  EXPECT_DOUBLE_EQ(mean_compression_ratio({1.0, 2.0, 3.0}), 2.0);
  EXPECT_DOUBLE_EQ(mean_compression_ratio({}), 1.0);
}

TEST(ScbenchRows, KeyValueRetrievalMatchesWholeWordsOnly) {
  const std::string value = "f7c1bd87-4da5-4709-9471-3d60c8a70639";
  EXPECT_EQ(scbench_turn_score("scbench_kv", "The value is: \"" + value + "\".", {value}), 1.0);
  EXPECT_EQ(scbench_turn_score("scbench_kv", "{" + value + "}", {value}), 1.0);
  EXPECT_EQ(scbench_turn_score("scbench_kv", value.substr(0, 20), {value}), 0.0);
  EXPECT_EQ(scbench_turn_score("scbench_kv", "x" + value, {value}), 0.0);
  EXPECT_EQ(scbench_turn_score("scbench_kv", "", {value}), 0.0);
}

TEST(ScbenchRows, OtherTasksAreCaseInsensitiveStringMatch) {
  EXPECT_EQ(scbench_turn_score("scbench_qa_eng", "It was PARIS and Rome.", {"paris", "rome"}), 1.0);
  EXPECT_EQ(scbench_turn_score("scbench_qa_eng", "It was Paris.", {"paris", "rome"}), 0.5);
  EXPECT_EQ(scbench_turn_score("scbench_qa_eng", "", {"paris"}), 0.0);
}

TEST(ScbenchRows, ParsesRowsAndBuildsTurnsWithGoldenAnswers) {
  JsonLine line{"f.jsonl:1", {{"id", 7},
                              {"context", "CTX"},
                              {"multi_turns", {{{"input", "q1"}, {"answer", "a1"}},
                                               {{"input", "q2"}, {"answer", {"a2", "b2"}}},
                                               {{"input", "q3"}, {"answer", 3}}}}}};
  const ScbenchRow row = parse_scbench_row(line);
  ASSERT_EQ(row.turns.size(), 3u);
  EXPECT_EQ(row.turns[1].answers, (std::vector<std::string>{"a2", "b2"}));
  EXPECT_EQ(row.turns[2].answers, (std::vector<std::string>{"3"}));
  const nlohmann::json third = scbench_turn_messages(row, 2);
  ASSERT_EQ(third.size(), 5u);
  EXPECT_EQ(third[0]["content"], "CTX\n\nq1");
  EXPECT_EQ(third[1], nlohmann::json({{"role", "assistant"}, {"content", "a1"}}));
  EXPECT_EQ(third[3]["content"], "a2");
  EXPECT_EQ(third[4]["content"], "q3");
  JsonLine choice{"c.jsonl:1", {{"context", "C"},
                                {"multi_turns", {{{"input", "Which?"}, {"answer", "B"}, {"options", {"x", "y"}}}}}}};
  EXPECT_EQ(scbench_request_messages(parse_scbench_row(choice), 0)[0]["content"], "C\n\nWhich?\n\nOptions:\nA. x\nB. y");
  EXPECT_EQ(scbench_request_messages(row, 1),
            nlohmann::json::array({{{"role", "user"}, {"content", "CTX\n\nq2"}}}));
  for (const nlohmann::json& bad :
       {nlohmann::json{{"multi_turns", {{{"input", "q"}, {"answer", "a"}}}}},
        nlohmann::json{{"context", "c"}, {"multi_turns", nlohmann::json::array()}},
        nlohmann::json{{"context", "c"}, {"multi_turns", {{{"input", "q"}}}}},
        nlohmann::json{{"context", "c"}, {"multi_turns", {{{"input", "q"}, {"answer", nullptr}}}}}}) {
    try {
      parse_scbench_row({"bad.jsonl:4", bad});
      FAIL() << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.jsonl:4"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace slkv
