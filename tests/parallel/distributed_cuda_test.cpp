// The distributed layouts on GPUs: `generate --device cuda` under mpirun, one
// GPU per rank with NCCL between them (and tokens drawn on rank 0's GPU when
// there are no pipeline stages), against one CPU process on stories260K:
// same greedy tokens, lazy layers and KV held per layer. Each layout skips
// unless the build has CUDA and the machine shows one GPU per rank.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_device.h"
#endif

namespace slkv {
namespace {

using testing::JobRun;
using testing::run;

std::string generate_args(const std::string& device, const std::string& policy) {
  return "--device " + device + " --model " + testing::stories_dir().string() + " --prompts-file " +
         testing::stories_prompts_file().string() + " --max-new-tokens 12 --temperature 0 --threads 1 --json" +
         " --kv-policy " + policy + " --sink 4 --recent 16 --obs-window 8 --lazy-threshold 0.85";
}

struct GpuLayout {
  const char* name;
  int np;
  const char* args;
};

class DistributedCuda : public ::testing::TestWithParam<std::tuple<const char*, GpuLayout>> {};

TEST_P(DistributedCuda, MatchesOneCpuProcess) {
  const auto& [policy, layout] = GetParam();
#ifndef SLKV_HAVE_CUDA
  GTEST_SKIP() << "built without CUDA (SLKV_CUDA=OFF or no nvcc)";
#else
  if (cuda_device_count() < layout.np)
    GTEST_SKIP() << layout.name << " needs " << layout.np << " GPUs, " << cuda_device_count() << " visible";
  SLKV_REQUIRE_SHARED();
  const JobRun single = run(0, generate_args("cpu", policy));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ASSERT_EQ(single.results.size(), 2u) << single.output;
  const JobRun parallel = run(layout.np, generate_args("cuda", policy) + " " + layout.args);
  ASSERT_EQ(parallel.exit_code, 0) << parallel.output;
  ASSERT_EQ(parallel.results.size(), 2u) << "only rank 0 prints JSON\n" << parallel.output;
  for (size_t i = 0; i < 2; ++i) {
    const nlohmann::json& a = single.results[i];
    const nlohmann::json& b = parallel.results[i];
    EXPECT_EQ(a["tokens"], b["tokens"]) << "prompt " << i;
    EXPECT_EQ(a["finish_reason"], b["finish_reason"]);
    EXPECT_EQ(a["kv"]["lazy_layers"], b["kv"]["lazy_layers"]) << "prompt " << i;
    EXPECT_EQ(a["kv"]["kv_tokens_per_layer"], b["kv"]["kv_tokens_per_layer"]) << "prompt " << i;
  }
#endif
}

const GpuLayout kGpuLayouts[] = {{"tp2", 2, "--tp 2"}, {"pp2", 2, "--pp 2"}, {"tp2_pp2", 4, "--tp 2 --pp 2"}};

INSTANTIATE_TEST_SUITE_P(Layouts, DistributedCuda,
                         ::testing::Combine(::testing::Values("full", "simlayerkv"), ::testing::ValuesIn(kGpuLayouts)),
                         [](const auto& info) {
                           std::string policy = std::get<0>(info.param);
                           return policy + "_" + std::get<1>(info.param).name;
                         });

}  // namespace
}  // namespace slkv
