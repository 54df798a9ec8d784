// The engine under mpirun: with at most two sequences running, prompts
// prefilled in small chunks and a pool small enough to preempt, every
// tp x pp layout gives the single-process tokens and decisions, and every
// rank applies the same decision vectors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/tokenizer/tokenizer.h"
#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using Json = nlohmann::json;
using testing::JobRun;
using testing::run;
using testing::temp_path;

const std::vector<std::string> kPrompts = {
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.",
    "Zoo",
    "Tom had a big red ball. He liked to throw it high in the sky and catch it. His dog",
    "The cat sat on the mat and looked at the bird in the tree. The bird sang a song.",
    "One day"};
constexpr int64_t kNewTokens = 40;

std::filesystem::path prompts_file() {
  const std::filesystem::path path = temp_path("engine_prompts.jsonl");
  std::ofstream out(path);
  for (const std::string& prompt : kPrompts) out << Json(prompt).dump() << "\n";
  return path;
}

// Blocks the longest request needs on a rank holding `layers` layers of full KV.
int64_t one_request_blocks(int64_t layers) {
  const Tokenizer tokenizer = Tokenizer::load(testing::stories_dir());
  int64_t longest = 0;
  for (const std::string& prompt : kPrompts)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(tokenizer.encode(prompt, true).size()));
  return layers * ((longest + kNewTokens + 15) / 16);
}

std::string args(const std::string& policy, int64_t kv_blocks) {
  return "--device cpu --threads 1 --model " + testing::stories_dir().string() + " --prompts-file " +
         prompts_file().string() + " --max-new-tokens " + std::to_string(kNewTokens) +
         " --temperature 0 --json --kv-policy " + policy +
         " --sink 4 --recent 16 --obs-window 8 --snapkv-budget 12 --lazy-threshold 0.85"
         " --max-batch 2 --max-batch-tokens 16 --kv-blocks " + std::to_string(kv_blocks);
}

struct Layout {
  const char* name;
  int np;
  const char* args;
  int64_t largest_stage;  // layers of the largest pipeline stage (stories260K has 5)
};
const Layout kLayouts[] = {{"tp2", 2, "--tp 2", 5}, {"pp2", 2, "--pp 2", 3}, {"tp2_pp2", 4, "--tp 2 --pp 2", 3}};

class DistributedEngine : public ::testing::TestWithParam<std::tuple<const char*, Layout>> {};

TEST_P(DistributedEngine, StaggeredArrivalsAndPreemptionMatchOneProcess) {
  SLKV_REQUIRE_SHARED();
  const auto& [policy, layout] = GetParam();
  const JobRun single = run(0, args(policy, one_request_blocks(5) + 1));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ASSERT_EQ(single.results.size(), kPrompts.size()) << single.output;
  EXPECT_GT(single.results[0]["engine"]["preemptions"].get<int64_t>(), 0) << "the pool should run out";

  const std::filesystem::path dump = temp_path(std::string("engine_") + layout.name + "_decisions");
  std::filesystem::remove_all(dump);
  // Each rank's pool is just above what one request needs on its stage.
  const JobRun parallel = run(layout.np, args(policy, one_request_blocks(layout.largest_stage) + 1) + " " +
                                             layout.args + " --dump-decisions " + dump.string());
  ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
  ASSERT_EQ(parallel.results.size(), kPrompts.size()) << parallel.output;
  EXPECT_GT(parallel.results[0]["engine"]["preemptions"].get<int64_t>(), 0) << "the pool should run out";
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    EXPECT_EQ(single.results[i]["tokens"], parallel.results[i]["tokens"]) << "prompt " << i;
    EXPECT_EQ(single.results[i]["kv"]["lazy_layers"], parallel.results[i]["kv"]["lazy_layers"]) << "prompt " << i;
    EXPECT_EQ(single.results[i]["kv"]["kv_tokens_per_layer"], parallel.results[i]["kv"]["kv_tokens_per_layer"])
        << "prompt " << i;
  }
  for (int rank = 0; rank < layout.np; ++rank) {
    std::ifstream in(dump / ("rank" + std::to_string(rank) + ".json"));
    ASSERT_TRUE(in) << "rank " << rank << " wrote no decisions";
    const Json decisions = Json::parse(in);
    ASSERT_EQ(decisions["sequences"].size(), kPrompts.size());
    for (size_t i = 0; i < kPrompts.size(); ++i)
      EXPECT_EQ(decisions["sequences"][i], single.results[i]["kv"]["lazy_layers"]) << "rank " << rank;
  }
  std::filesystem::remove_all(dump);
}

std::string test_name(const ::testing::TestParamInfo<DistributedEngine::ParamType>& info) {
  std::string policy = std::get<0>(info.param);
  for (char& c : policy)
    if (c == '+') c = '_';
  return policy + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Layouts, DistributedEngine,
                         ::testing::Combine(::testing::Values("simlayerkv", "simlayerkv+snapkv"),
                                            ::testing::ValuesIn(kLayouts)),
                         test_name);

}  // namespace
}  // namespace slkv
