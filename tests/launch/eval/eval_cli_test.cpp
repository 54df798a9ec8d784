// slkv eval longbench / scbench / score through the binary on stories260K:
// every output written, an interrupted run resumed to the same file, SCBench
// turns equal to from-scratch runs over the same history, and bad input
// refused with the file and line named.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/text_file.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::run_slkv;

std::string stories() { return testing::stories_dir().string(); }
std::string longbench_data() { return (testing::shared_dir() / "data" / "longbench").string(); }

std::vector<nlohmann::json> file_lines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path dir = testing::temp_path(name);
  std::filesystem::remove_all(dir);
  return dir;
}

const std::string kSmall = " --threads 1 --sink 4 --recent 32 --obs-window 8 --lazy-threshold 0.9";

TEST(EvalLongBenchCli, WritesEveryTaskPerPolicyAndScores) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path out = fresh_dir("lb_all");
  const auto run = run_slkv("eval longbench --model " + stories() + " --data " + longbench_data() +
                                " --limit 2 --kv-policy full,simlayerkv --out " + out.string() + kSmall,
                            /*merge_stderr=*/true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // stories260K's 512-token context cuts multi_news's 512-token generation to 128, and says so.
  EXPECT_NE(run.output.find("multi_news: the model's context is 512 tokens: generating 128 tokens instead of 512"),
            std::string::npos)
      << run.output;
  for (const std::string policy : {"full", "simlayerkv"})
    for (const std::string task : {"multi_news", "multifieldqa_zh", "passage_retrieval_zh"}) {
      const auto lines = file_lines(out / policy / (task + ".jsonl"));
      ASSERT_EQ(lines.size(), 2u) << policy << " " << task;
      for (size_t i = 0; i < lines.size(); ++i) {
        EXPECT_EQ(lines[i]["index"], i);
        EXPECT_TRUE(lines[i]["pred"].is_string());
        EXPECT_TRUE(lines[i]["answers"].is_array());
        EXPECT_TRUE(lines[i]["length"].is_number_integer());
        EXPECT_TRUE(lines[i].contains("all_classes"));
        EXPECT_LE(lines[i]["prompt_tokens"].get<int64_t>(), 512);
        EXPECT_EQ(lines[i]["kv"]["policy"], policy);
      }
    }
  const nlohmann::json run_file = nlohmann::json::parse(read_text_file(out / "run.json"));
  EXPECT_EQ(run_file["policies"], nlohmann::json({"full", "simlayerkv"}));
  EXPECT_EQ(run_file["tasks"]["multi_news"]["max_new_tokens"], 128);
  EXPECT_EQ(run_file["tasks"]["passage_retrieval_zh"]["max_new_tokens"], 32);

  const auto score = run_slkv("eval score --out " + out.string(), true);
  ASSERT_EQ(score.exit_code, 0) << score.output;
  const nlohmann::json result = nlohmann::json::parse(read_text_file(out / "result.json"));
  for (const std::string policy : {"full", "simlayerkv"})
    for (const std::string task : {"multi_news", "multifieldqa_zh", "passage_retrieval_zh"}) {
      ASSERT_TRUE(result[policy][task].is_number()) << result.dump();
      EXPECT_GE(result[policy][task].get<double>(), 0.0);
      EXPECT_LE(result[policy][task].get<double>(), 100.0);
    }
}

TEST(EvalLongBenchCli, AnInterruptedRunResumesToTheSameFile) {
  SLKV_REQUIRE_SHARED();
  const std::string flags = " --model " + stories() + " --data " + longbench_data() +
                            " --datasets passage_retrieval_zh --limit 3 --kv-policy simlayerkv" + kSmall;
  const std::filesystem::path whole = fresh_dir("lb_whole");
  ASSERT_EQ(run_slkv("eval longbench" + flags + " --out " + whole.string()).exit_code, 0);
  const std::string expected = read_text_file(whole / "passage_retrieval_zh.jsonl");
  ASSERT_EQ(file_lines(whole / "passage_retrieval_zh.jsonl").size(), 3u);

  // What a run killed while writing its second line leaves behind.
  const std::filesystem::path cut = fresh_dir("lb_cut");
  std::filesystem::create_directories(cut);
  const size_t first_line = expected.find('\n') + 1;
  std::ofstream(cut / "passage_retrieval_zh.jsonl") << expected.substr(0, first_line + 40);
  const auto resumed = run_slkv("eval longbench" + flags + " --out " + cut.string(), true);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("2 rows run"), std::string::npos) << resumed.output;
  EXPECT_EQ(read_text_file(cut / "passage_retrieval_zh.jsonl"), expected);
}

TEST(EvalLongBenchCli, BadInputNamesWhatIsWrong) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path out = fresh_dir("lb_bad");
  auto run = run_slkv("eval longbench --model " + stories() + " --data " + longbench_data() +
                          " --datasets nosuchtask --out " + out.string(), true);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("unknown LongBench task 'nosuchtask'"), std::string::npos) << run.output;

  // A row without its answers, on line 2.
  const std::filesystem::path data = fresh_dir("lb_bad_data");
  std::filesystem::create_directories(data);
  std::filesystem::copy(testing::shared_dir() / "data" / "longbench" / "dataset2prompt.json", data);
  std::filesystem::copy(testing::shared_dir() / "data" / "longbench" / "dataset2maxlen.json", data);
  std::ofstream(data / "hotpotqa.jsonl") << R"({"input": "q", "context": "c", "answers": ["a"], "length": 3, "all_classes": null})"
                                         << "\n"
                                         << R"({"input": "q", "context": "c", "length": 3})" << "\n";
  run = run_slkv("eval longbench --model " + stories() + " --data " + data.string() + " --out " + out.string(), true);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("hotpotqa.jsonl:2: the row has no 'answers' list"), std::string::npos) << run.output;

  run = run_slkv("eval nosuch", true);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("unknown eval task 'nosuch'"), std::string::npos) << run.output;
}

// Two rows of three compact key-value turns (the context is cut to fit stories260K).
std::filesystem::path scbench_file() {
  // The file's stem names the scorer (and the prediction file).
  std::filesystem::create_directories(testing::temp_path("scbench"));
  const std::filesystem::path path = testing::temp_path("scbench") / "scbench_kv.jsonl";
  const std::string command = "python3 " + std::string(SLKV_SOURCE_DIR) +
                              "/scripts/make_scbench_kv.py --rows 2 --pairs 3 --turns 3 --compact > " + path.string();
  EXPECT_EQ(std::system(command.c_str()), 0);
  return path;
}

// `generate --prompt-ids` over `ids`, full KV: the from-scratch reply.
std::vector<int32_t> from_scratch(const std::vector<int32_t>& ids, int64_t max_new_tokens) {
  const std::filesystem::path path = testing::temp_path("scbench_ids.json");
  std::ofstream(path) << nlohmann::json(ids).dump();
  const auto result = run_slkv("generate --model " + stories() + " --prompt-ids " + path.string() +
                               " --json --kv-policy full --temperature 0 --threads 1 --max-new-tokens " +
                               std::to_string(max_new_tokens));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return nlohmann::json::parse(result.output)["tokens"].get<std::vector<int32_t>>();
}

void expect_turns_equal_from_scratch(const std::string& mode) {
  const Tokenizer tokenizer = Tokenizer::load(testing::stories_dir());
  const std::filesystem::path out = fresh_dir("scb_" + mode);
  const auto run = run_slkv("eval scbench --model " + stories() + " --data " + scbench_file().string() + " --mode " +
                                mode + " --max-new-tokens 8 --prompt-ids --lazy-threshold 1 --out " + out.string() +
                                " --threads 1",
                            true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto rows = file_lines(out / "scbench_kv.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  for (const nlohmann::json& row : rows) {
    ASSERT_EQ(row["turns"].size(), 3u);
    std::vector<int32_t> previous;
    std::string answer;
    for (const nlohmann::json& turn : row["turns"]) {
      const std::vector<int32_t> ids = turn["prompt_ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(turn["tokens"].get<std::vector<int32_t>>(), from_scratch(ids, 8)) << mode << " turn " << turn["turn"];
      if (mode == "multi-turn" && !previous.empty()) {
        // The history holds the earlier turn's prompt and golden answer, not the prediction.
        const std::string before = tokenizer.decode(previous, true), now = tokenizer.decode(ids, true);
        EXPECT_EQ(now.compare(0, before.size(), before), 0) << now;
        EXPECT_EQ(now.find(answer, before.size()), before.size()) << now;
      }
      previous = ids;
      answer = turn["answer"][0].get<std::string>();
    }
  }
  const nlohmann::json result = nlohmann::json::parse(read_text_file(out / "result.json"));
  EXPECT_EQ(result["simlayerkv"]["turn_scores"].size(), 3u);
}

TEST(EvalScbenchCli, MultiTurnWithoutLazyLayersEqualsFromScratchRunsOverEachTurnsHistory) {
  SLKV_REQUIRE_SHARED();
  expect_turns_equal_from_scratch("multi-turn");
}

TEST(EvalScbenchCli, MultiRequestForksEqualFromScratchRunsOverContextAndQuery) {
  SLKV_REQUIRE_SHARED();
  expect_turns_equal_from_scratch("multi-request");
}

TEST(EvalScbenchCli, LazyLayersParkAndRestoreAcrossTurns) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path out = fresh_dir("scb_lazy");
  const auto run = run_slkv("eval scbench --model " + stories() + " --data " + scbench_file().string() +
                                " --max-new-tokens 8 --kv-policy simlayerkv,full --out " + out.string() + kSmall,
                            true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  int64_t parked = 0;
  for (const nlohmann::json& row : file_lines(out / "simlayerkv" / "scbench_kv.jsonl"))
    for (const nlohmann::json& turn : row["turns"]) {
      parked += turn["offload"]["bytes_parked"].get<int64_t>();
      EXPECT_GE(turn["kv"]["compression_ratio"].get<double>(), 1.0);
    }
  EXPECT_GT(parked, 0) << "no lazy layer parked anything";
  const nlohmann::json result = nlohmann::json::parse(read_text_file(out / "result.json"));
  EXPECT_TRUE(result.contains("full"));
  EXPECT_TRUE(result.contains("simlayerkv"));
  EXPECT_DOUBLE_EQ(result["full"]["compression_ratio"].get<double>(), 1.0);
}

TEST(EvalScbenchCli, BadRowsNameTheLine) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path data = testing::temp_path("scbench_bad.jsonl");
  std::ofstream(data) << R"({"id": 0, "context": "c", "multi_turns": [{"input": "q", "answer": "a"}]})" << "\n"
                      << R"({"id": 1, "context": "c", "multi_turns": [{"answer": "a"}]})" << "\n";
  const auto run = run_slkv("eval scbench --model " + stories() + " --data " + data.string() + " --out " +
                                fresh_dir("scb_bad").string(), true);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("scbench_bad.jsonl:2: multi_turns[0] has no string 'input'"), std::string::npos)
      << run.output;
}

TEST(EvalMpiCli, TensorAndPipelineParallelRunsWriteWhatOneProcessWrites) {
  SLKV_REQUIRE_SHARED();
  const std::string longbench = " --model " + stories() + " --data " + longbench_data() +
                                " --datasets passage_retrieval_zh --limit 2 --kv-policy simlayerkv" + kSmall;
  const std::filesystem::path one = fresh_dir("lb_one"), tp = fresh_dir("lb_tp");
  ASSERT_EQ(testing::run(0, longbench + " --out " + one.string(), "", "eval longbench").exit_code, 0);
  const testing::JobRun tp_run = testing::run(2, longbench + " --tp 2 --out " + tp.string(), "", "eval longbench");
  ASSERT_EQ(tp_run.exit_code, 0) << tp_run.output;
  const auto a = file_lines(one / "passage_retrieval_zh.jsonl"), b = file_lines(tp / "passage_retrieval_zh.jsonl");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["pred"], b[i]["pred"]);
    EXPECT_EQ(a[i]["kv"]["lazy_layers"], b[i]["kv"]["lazy_layers"]);
    EXPECT_EQ(a[i]["kv"]["kv_bytes"], b[i]["kv"]["kv_bytes"]);  // summed over the ranks' heads
  }

  // SCBench sessions with parking across pipeline stages.
  const std::string scbench = " --model " + stories() + " --data " + scbench_file().string() + " --max-new-tokens 8" + kSmall;
  const std::filesystem::path s_one = fresh_dir("scb_one"), s_pp = fresh_dir("scb_pp");
  ASSERT_EQ(testing::run(0, scbench + " --out " + s_one.string(), "", "eval scbench").exit_code, 0);
  const testing::JobRun pp_run = testing::run(2, scbench + " --pp 2 --out " + s_pp.string(), "", "eval scbench");
  ASSERT_EQ(pp_run.exit_code, 0) << pp_run.output;
  const auto c = file_lines(s_one / "scbench_kv.jsonl"), d = file_lines(s_pp / "scbench_kv.jsonl");
  ASSERT_EQ(c.size(), d.size());
  for (size_t i = 0; i < c.size(); ++i)
    for (size_t t = 0; t < c[i]["turns"].size(); ++t) {
      EXPECT_EQ(c[i]["turns"][t]["tokens"], d[i]["turns"][t]["tokens"]);
      EXPECT_EQ(c[i]["turns"][t]["offload"], d[i]["turns"][t]["offload"]);
    }
}

}  // namespace
}  // namespace slkv
