// The model-running subcommands besides generate under mpirun, on stories260K:
// analyze-layers and bench-kv must report what one process reports (scores
// are summed over the ranks' heads and stages, logits reach every rank), and
// bench must report every rank's share of the weights and its communication.
// All on the CPU backend (--device cpu), also on a machine with a GPU: the
// CUDA path has its own tests.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::JobRun;
using testing::run;

struct Layout {
  int np;
  const char* args;
};
const Layout kLayouts[] = {{2, "--tp 2"}, {2, "--pp 2 --pp-layers 2,3"}, {4, "--tp 2 --pp 2"}};

TEST(DistributedSubcommands, AnalyzeLayersMatchesOneProcess) {
  SLKV_REQUIRE_SHARED();
  const std::string args = "--device cpu --model " + testing::stories_dir().string() + " --input " +
                           (testing::shared_dir() / "data" / "longbench" / "multi_news.jsonl").string() +
                           " --dataset multi_news --max-prompts 2 --recent 64 --threads 1 --json";
  const JobRun single = run(0, args, "", "analyze-layers");
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ASSERT_EQ(single.results.size(), 1u) << single.output;
  const nlohmann::json& expected = single.results[0]["layers"];
  ASSERT_EQ(expected.size(), 5u);
  for (const Layout& layout : kLayouts) {
    const JobRun parallel = run(layout.np, args + " " + layout.args, "", "analyze-layers");
    ASSERT_EQ(parallel.exit_code, 0) << layout.args << "\n" << parallel.output;
    ASSERT_EQ(parallel.results.size(), 1u) << "only rank 0 reports\n" << parallel.output;
    const nlohmann::json& got = parallel.results[0]["layers"];
    ASSERT_EQ(got.size(), expected.size());
    for (size_t layer = 0; layer < expected.size(); ++layer)
      for (const char* key : {"mean", "min", "max"})
        EXPECT_NEAR(got[layer][key].get<double>(), expected[layer][key].get<double>(), 1e-6)
            << layout.args << " layer " << layer << " " << key;
  }
}

// The markdown tables without the timing columns (decode tok/s and the KV
// memory at the longest context are measured, the rest is deterministic).
std::vector<std::string> fidelity_rows(const std::string& output) {
  std::vector<std::string> rows;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("| ", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream cell_stream(line);
    std::string cell;
    while (std::getline(cell_stream, cell, '|')) cells.push_back(cell);
    // The first table has 11 columns, the last 3 timed; the second has 8.
    if (cells.size() == 12) cells.resize(9);
    std::string kept;
    for (const std::string& c : cells) kept += c + "|";
    rows.push_back(kept);
  }
  return rows;
}

TEST(DistributedSubcommands, BenchKvMatchesOneProcess) {
  SLKV_REQUIRE_SHARED();
  const std::string args = "--device cpu --model " + testing::stories_dir().string() +
                           " --prompts 2 --prompt-tokens 160 --new-tokens 12 --thresholds 0.7,0.9 "
                           "--streaming-recent 32 --snapkv-budgets 32 --hybrid-budget 48 --control-draws 1 "
                           "--timing-reps 1 --recent 32 --threads 1";
  const JobRun single = run(0, args, "", "bench-kv");
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const std::vector<std::string> expected = fidelity_rows(single.output);
  ASSERT_GT(expected.size(), 10u) << single.output;
  for (const Layout& layout : kLayouts) {
    const JobRun parallel = run(layout.np, args + " " + layout.args, "", "bench-kv");
    ASSERT_EQ(parallel.exit_code, 0) << layout.args << "\n" << parallel.output;
    EXPECT_EQ(fidelity_rows(parallel.output), expected) << layout.args << "\n" << parallel.output;
  }
}

TEST(DistributedSubcommands, BenchReportsEveryRank) {
  SLKV_REQUIRE_SHARED();
  const std::string args = "--device cpu --model " + testing::stories_dir().string() +
                           " --threads 1 --prefill-tokens 64 --decode-tokens 16 --reps 1 --llamacpp '' --json";
  const JobRun single = run(0, args, "", "bench");
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ASSERT_EQ(single.results.size(), 1u) << single.output;
  const double whole_model_bytes = single.results[0]["weight_bytes_per_token"].get<double>();
  EXPECT_FALSE(single.results[0].contains("parallel"));
  for (const Layout& layout : kLayouts) {
    const JobRun parallel = run(layout.np, args + " " + layout.args, "", "bench");
    ASSERT_EQ(parallel.exit_code, 0) << layout.args << "\n" << parallel.output;
    ASSERT_EQ(parallel.results.size(), 1u) << "only rank 0 reports\n" << parallel.output;
    const nlohmann::json& report = parallel.results[0];
    EXPECT_GT(report["decode_tok_s"].get<double>(), 0);
    EXPECT_GT(report["prefill_tok_s"].get<double>(), 0);
    const nlohmann::json& ranks = report["parallel"];
    ASSERT_EQ(ranks["world_size"].get<int>(), layout.np);
    double weight_bytes = 0;
    for (int r = 0; r < layout.np; ++r) {
      const double loaded = ranks["loaded_bytes_per_rank"][r].get<double>();
      EXPECT_GT(loaded, 0) << "rank " << r;
      EXPECT_LT(loaded, whole_model_bytes) << "rank " << r << " loads only its share";
      EXPECT_GE(ranks["communication_ms_per_step_per_rank"][r].get<double>(), 0) << "rank " << r;
      weight_bytes += ranks["weight_bytes_per_token_per_rank"][r].get<double>();
    }
    // The ranks' shares of the per-token weight reads add up to the whole model.
    EXPECT_EQ(weight_bytes, whole_model_bytes) << layout.args;
    EXPECT_EQ(report["weight_bytes_per_token"].get<double>(), whole_model_bytes);
  }
}

}  // namespace
}  // namespace slkv
