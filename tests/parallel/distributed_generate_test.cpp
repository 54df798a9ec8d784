// Distributed generation through mpirun on stories260K (5 layers, 8 query
// heads, 4 KV heads): every tp x pp layout and KV policy must give the
// single-process tokens, logits (1e-4) and lazy-layer decisions, with the
// decisions applied identically on every rank; failing ranks take the job
// down promptly with a message naming the rank; bad layouts fail before loading.
// All on the CPU backend (--device cpu), also on a machine with a GPU.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using Json = nlohmann::json;

using testing::JobRun;
using testing::run;
using testing::stories_prompts_file;
using testing::temp_path;

std::string base_args(const std::string& policy) {
  return "--device cpu --model " + testing::stories_dir().string() + " --prompts-file " +
         stories_prompts_file().string() +
         " --max-new-tokens 12 --temperature 0 --threads 1 --json --dump-logits --kv-policy " + policy +
         " --sink 4 --recent 16 --obs-window 8 --snapkv-budget 12 --lazy-threshold 0.85";
}

struct Layout {
  const char* name;
  int np;
  const char* args;
};

const Layout kLayouts[] = {
    {"tp2", 2, "--tp 2"},
    {"pp2", 2, "--pp 2"},
    {"pp2_layers_3_2", 2, "--pp 2 --pp-layers 3,2"},
    {"tp2_pp2", 4, "--tp 2 --pp 2"},
    {"tp4", 4, "--tp 4"},
    {"pp3", 3, "--pp 3"},  // a middle stage both receives and sends hidden states
};
const char* const kPolicies[] = {"full", "simlayerkv", "streaming", "snapkv", "simlayerkv+snapkv"};

class DistributedGenerate : public ::testing::TestWithParam<std::tuple<const char*, Layout>> {};

TEST_P(DistributedGenerate, MatchesOneProcess) {
  SLKV_REQUIRE_SHARED();
  const auto& [policy, layout] = GetParam();
  const JobRun single = run(0, base_args(policy));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ASSERT_EQ(single.results.size(), 2u) << single.output;

  const std::filesystem::path dump = temp_path(std::string(layout.name) + "_decisions");
  std::filesystem::remove_all(dump);
  const JobRun parallel = run(layout.np, base_args(policy) + " " + layout.args + " --dump-decisions " + dump.string());
  ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
  ASSERT_EQ(parallel.results.size(), 2u) << "only rank 0 prints JSON\n" << parallel.output;

  for (size_t i = 0; i < 2; ++i) {
    const Json& a = single.results[i];
    const Json& b = parallel.results[i];
    EXPECT_EQ(a["tokens"], b["tokens"]) << "prompt " << i;
    EXPECT_EQ(a["finish_reason"], b["finish_reason"]);
    EXPECT_EQ(a["kv"]["lazy_layers"], b["kv"]["lazy_layers"]) << "prompt " << i;
    EXPECT_EQ(a["kv"]["kv_tokens_per_layer"], b["kv"]["kv_tokens_per_layer"]) << "prompt " << i;
    EXPECT_EQ(a["kv"]["kv_bytes"], b["kv"]["kv_bytes"]);
    const Json& la = a["step_logits"];
    const Json& lb = b["step_logits"];
    ASSERT_EQ(la.size(), lb.size());
    double worst = 0;
    for (size_t s = 0; s < la.size(); ++s) {
      ASSERT_EQ(la[s].size(), lb[s].size());
      for (size_t v = 0; v < la[s].size(); ++v)
        worst = std::max(worst, std::abs(la[s][v].get<double>() - lb[s][v].get<double>()));
    }
    EXPECT_LT(worst, 1e-4) << "largest logit difference, prompt " << i;
    const auto& bytes = b["parallel"]["loaded_bytes_per_rank"];
    ASSERT_EQ(static_cast<int>(bytes.size()), layout.np);
    for (const auto& rank_bytes : bytes) EXPECT_GT(rank_bytes.get<int64_t>(), 0);
  }
  // Every rank applied the same full-model decision vector, the one-process one.
  for (int rank = 0; rank < layout.np; ++rank) {
    std::ifstream in(dump / ("rank" + std::to_string(rank) + ".json"));
    ASSERT_TRUE(in) << "rank " << rank << " wrote no decisions";
    const Json decisions = Json::parse(in);
    ASSERT_EQ(decisions["sequences"].size(), 2u);
    for (size_t i = 0; i < 2; ++i)
      EXPECT_EQ(decisions["sequences"][i], single.results[i]["kv"]["lazy_layers"]) << "rank " << rank;
  }
  std::filesystem::remove_all(dump);
}

std::string test_name(const ::testing::TestParamInfo<DistributedGenerate::ParamType>& info) {
  std::string policy = std::get<0>(info.param);
  for (char& c : policy)
    if (c == '+') c = '_';
  return policy + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Layouts, DistributedGenerate,
                         ::testing::Combine(::testing::ValuesIn(kPolicies), ::testing::ValuesIn(kLayouts)),
                         test_name);

TEST(DistributedGenerate, SimLayerKvMakesMixedDecisions) {
  // Guards the fixture: the policy tests above are only meaningful if some
  // layers are lazy and some are not.
  SLKV_REQUIRE_SHARED();
  const JobRun single = run(0, base_args("simlayerkv"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  std::set<bool> seen;
  for (const Json& result : single.results)
    for (const auto& lazy : result["kv"]["lazy_layers"]) seen.insert(lazy.get<bool>());
  EXPECT_EQ(seen.size(), 2u) << single.output;
}

TEST(DistributedGenerate, DecodeDetectionMatchesOneProcess) {
  SLKV_REQUIRE_SHARED();
  const std::string args = base_args("simlayerkv") + " --lazy-detect decode";
  const JobRun single = run(0, args);
  const JobRun parallel = run(4, args + " --tp 2 --pp 2");
  ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
  ASSERT_EQ(single.results.size(), parallel.results.size());
  for (size_t i = 0; i < single.results.size(); ++i) {
    EXPECT_EQ(single.results[i]["tokens"], parallel.results[i]["tokens"]);
    EXPECT_EQ(single.results[i]["kv"]["lazy_layers"], parallel.results[i]["kv"]["lazy_layers"]);
  }
}

TEST(DistributedGenerate, TensorParallelLoadsAShareOfTheWeights) {
  SLKV_REQUIRE_SHARED();
  const JobRun single = run(0, base_args("full"));
  const JobRun tp2 = run(2, base_args("full") + " --tp 2");
  ASSERT_EQ(tp2.exit_code, 0) << tp2.output;
  const int64_t whole = single.results[0]["parallel"]["loaded_bytes_per_rank"][0];
  for (const auto& bytes : tp2.results[0]["parallel"]["loaded_bytes_per_rank"]) {
    EXPECT_LT(bytes.get<int64_t>(), whole * 6 / 10);  // half, plus the replicated norms
    EXPECT_GT(bytes.get<int64_t>(), whole * 4 / 10);
  }
}

// The whole job ended non-zero within 30 s with a message naming the failed rank.
void expect_job_failed_naming(const JobRun& result, int rank) {
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_LT(result.seconds, 30);
  EXPECT_NE(result.output.find("rank " + std::to_string(rank) + ": error: injected failure"), std::string::npos)
      << result.output;
}

TEST(DistributedFaults, RankFailingAtLoadEndsTheJob) {
  SLKV_REQUIRE_SHARED();
  const JobRun result = run(2, base_args("simlayerkv") + " --tp 2", "SLKV_FAIL_AT=load:1");
  expect_job_failed_naming(result, 1);
}

TEST(DistributedFaults, RankFailingMidGenerationEndsTheJob) {
  SLKV_REQUIRE_SHARED();
  const JobRun result = run(4, base_args("simlayerkv") + " --tp 2 --pp 2", "SLKV_FAIL_AT=decode:3:4");
  expect_job_failed_naming(result, 3);
  EXPECT_NE(result.output.find("decode step 4"), std::string::npos) << result.output;
}

TEST(DistributedFaults, CoordinatorFailingAtLoadEndsTheJob) {
  SLKV_REQUIRE_SHARED();
  const JobRun result = run(2, base_args("full") + " --tp 2", "SLKV_FAIL_AT=load:0");
  expect_job_failed_naming(result, 0);
}

TEST(DistributedErrors, GridMustMatchTheWorld) {
  SLKV_REQUIRE_SHARED();
  const JobRun result = run(2, base_args("full") + " --tp 2 --pp 2");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--tp 2 x --pp 2 = 4 ranks, but the MPI world has 2"), std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("loaded"), std::string::npos);
  const JobRun plain = run(0, base_args("full") + " --tp 2");
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_NE(plain.output.find("--tp 2 x --pp 1 = 2 ranks, but the MPI world has 1 (launch with mpirun -np 2)"),
            std::string::npos)
      << plain.output;
}

TEST(DistributedErrors, CommandsWithoutAModelRefuseMpirun) {
  SLKV_REQUIRE_SHARED();
  for (const std::string subcommand : {"inspect", "tokenize"}) {
    const JobRun result = run(2, "--model " + testing::stories_dir().string() + " < /dev/null", "", subcommand);
    EXPECT_NE(result.exit_code, 0) << subcommand;
    EXPECT_NE(result.output.find(subcommand + " runs in a single process"), std::string::npos) << result.output;
  }
}

TEST(DistributedErrors, TpMustFitTheHeads) {
  SLKV_REQUIRE_SHARED();
  const JobRun result = run(3, base_args("full") + " --tp 3");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--tp 3 does not divide the model's query heads (num_attention_heads 8, "
                               "num_key_value_heads 4)"),
            std::string::npos)
      << result.output;
}

TEST(DistributedErrors, PipelineLayersMustSumToTheModel) {
  SLKV_REQUIRE_SHARED();
  const JobRun result = run(2, base_args("full") + " --pp 2 --pp-layers 3,3");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--pp-layers 3,3 sums to 6 layers, the model has 5"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace slkv

namespace slkv {
namespace {

// A random Qwen2 model (q/k/v biases), BF16, two safetensors shards, 8 query
// heads and 2 KV heads (tp 4 replicates each KV head on two ranks, so SnapKV
// key masses are summed over the ranks sharing it), uneven FFN and vocabulary
// splits (90 and 301 over 4 ranks).
TEST(DistributedGenerate, ReplicatedKvHeadsQwen2Bf16Shards) {
  const std::filesystem::path dir = temp_path("qwen2_model");
  std::filesystem::remove_all(dir);
  const std::string make = std::string(SLKV_BINARY) + " make-test-model --out " + dir.string() +
                           " --hidden 64 --layers 3 --heads 8 --kv-heads 2 --ffn 90 --vocab 301 --architecture qwen2"
                           " --dtype bf16 --shards 2 --seed 7 > /dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0);
  for (const char* policy : {"snapkv", "simlayerkv+snapkv"}) {
    const std::string args = "--device cpu --model " + dir.string() + " --prompts-file " +
                             stories_prompts_file().string() +
                             " --max-new-tokens 8 --temperature 0 --threads 1 --json --dump-logits --kv-policy " +
                             policy + " --sink 4 --recent 16 --obs-window 8 --snapkv-budget 12 --lazy-threshold 0.25";
    const JobRun single = run(0, args);
    ASSERT_EQ(single.exit_code, 0) << single.output;
    for (const char* layout : {"--tp 4", "--tp 2 --pp 2"}) {
      const JobRun parallel = run(4, args + " " + layout);
      ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
      ASSERT_EQ(single.results.size(), parallel.results.size());
      for (size_t i = 0; i < single.results.size(); ++i) {
        const Json& a = single.results[i];
        const Json& b = parallel.results[i];
        EXPECT_EQ(a["tokens"], b["tokens"]) << policy << " " << layout;
        EXPECT_EQ(a["kv"]["lazy_layers"], b["kv"]["lazy_layers"]) << policy << " " << layout;
        EXPECT_EQ(a["kv"]["kv_tokens_per_layer"], b["kv"]["kv_tokens_per_layer"]) << policy << " " << layout;
        double worst = 0;
        for (size_t s = 0; s < a["step_logits"].size(); ++s)
          for (size_t v = 0; v < a["step_logits"][s].size(); ++v)
            worst = std::max(worst, std::abs(a["step_logits"][s][v].get<double>() -
                                             b["step_logits"][s][v].get<double>()));
        EXPECT_LT(worst, 1e-4) << policy << " " << layout;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slkv

namespace slkv {
namespace {

TEST(DistributedGenerate, MicroBatchesKeepTheResults) {
  // --pp 2 defaults to 2 micro-batches (the layout tests); here: explicitly 1
  // and 2 micro-batches on one process and on two stages agree.
  SLKV_REQUIRE_SHARED();
  const JobRun one = run(0, base_args("simlayerkv"));
  const JobRun split = run(0, base_args("simlayerkv") + " --micro-batches 2");
  const JobRun staged = run(2, base_args("simlayerkv") + " --pp 2 --micro-batches 1");
  ASSERT_EQ(split.exit_code, 0) << split.output;
  ASSERT_EQ(staged.exit_code, 0) << staged.output;
  ASSERT_EQ(one.results.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(one.results[i]["tokens"], split.results[i]["tokens"]);
    EXPECT_EQ(one.results[i]["tokens"], staged.results[i]["tokens"]);
    EXPECT_EQ(one.results[i]["kv"]["lazy_layers"], split.results[i]["kv"]["lazy_layers"]);
    EXPECT_EQ(one.results[i]["kv"]["lazy_layers"], staged.results[i]["kv"]["lazy_layers"]);
  }
}

}  // namespace
}  // namespace slkv
