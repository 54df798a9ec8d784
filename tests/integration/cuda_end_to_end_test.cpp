// End to end on the CUDA backend: stories260K greedy texts equal llama2.c's
// reference, every KV policy gives the CPU backend's tokens and KV per
// layer, and seeded sampling (drawn on the device) gives the CPU's tokens.
// Skips (reported as SKIPPED) without a CUDA build or a visible GPU.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "tests/engine_support.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/integration/reference_outputs.h"
#include "tests/test_support.h"
#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#endif

namespace slkv {
namespace {

// A CUDA backend, or null with the reason to skip.
std::unique_ptr<Backend> cuda_backend_or_reason(std::string& reason) {
#ifdef SLKV_HAVE_CUDA
  if (cuda_device_count() == 0) {
    reason = "no CUDA device visible to this process";
    return nullptr;
  }
  select_cuda_device(0);
  return make_cuda_backend();
#else
  reason = "built without CUDA (SLKV_CUDA=OFF or no nvcc)";
  return nullptr;
#endif
}

// One backend with the model and cache in its memory. The backend is
// declared first so that it outlives the device buffers of the others.
struct Runner {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;

  Runner(std::unique_ptr<Backend> b, const std::filesystem::path& dir) : backend(std::move(b)) {
    model = Model::load(dir, {}, backend.get());
  }

  // sampling[i] for prompt i (greedy where sampling has no entry).
  std::vector<RequestResult> generate(const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens,
                                      const KvPolicyConfig& policy, std::vector<int32_t> stop_tokens,
                                      const std::vector<SamplingParams>& sampling = {}) {
    std::vector<testing::EngineRun> runs;
    for (size_t i = 0; i < prompts.size(); ++i)
      runs.push_back({prompts[i], max_new_tokens, i < sampling.size() ? sampling[i] : SamplingParams{}});
    return testing::run_engine(*model, *backend, runs, policy, stop_tokens);
  }
};

// The model on the GPU and on the CPU, and its tokenizer; skips without a GPU.
class CudaEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    SLKV_REQUIRE_SHARED();
    std::string reason;
    std::unique_ptr<Backend> backend = cuda_backend_or_reason(reason);
    if (!backend) GTEST_SKIP() << reason;
    cuda_ = std::make_unique<Runner>(std::move(backend), testing::stories_dir());
    cpu_ = std::make_unique<Runner>(make_cpu_backend(2), testing::stories_dir());
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::load(testing::stories_dir()));
  }

  std::unique_ptr<Runner> cuda_, cpu_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(CudaEndToEnd, GreedyOutputsMatchLlama2cReference) {
  const auto cases =
      testing::read_reference_cases(testing::stories_dir() / "reference" / "reference_greedy_outputs.txt");
  ASSERT_GE(cases.size(), 5u);
  for (const testing::ReferenceCase& c : cases) {
    std::vector<int32_t> prompt = tokenizer_->encode(c.prompt, true);
    // run.c runs `steps` forwards; the one at the last prompt position already samples; it stops at BOS.
    const int64_t new_tokens = c.steps - static_cast<int64_t>(prompt.size()) + 1;
    std::vector<int32_t> all = prompt;
    const std::vector<int32_t> generated = cuda_->generate({prompt}, new_tokens, {}, {1})[0].tokens;
    all.insert(all.end(), generated.begin(), generated.end());
    std::string text = tokenizer_->decode(all, true);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    EXPECT_EQ(text, c.text) << "prompt \"" << c.prompt << "\" -n " << c.steps;
  }
}

TEST_F(CudaEndToEnd, EveryKvPolicyGivesTheCpuTokens) {
  const std::vector<std::vector<int32_t>> prompts = {
      tokenizer_->encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
                       "with her friends. One day",
                       true),
      tokenizer_->encode("Tom had a big red ball. He liked to throw it high in the sky and catch it. His dog", true)};
  for (const std::string name : {"full", "simlayerkv", "streaming", "snapkv", "simlayerkv+snapkv"}) {
    for (LazyDetect detect : {LazyDetect::Prefill, LazyDetect::Decode}) {
      KvPolicyConfig policy;
      policy.kind = parse_kv_policy(name);
      policy.detect = detect;
      policy.sink = 4;
      policy.recent = 16;
      policy.obs_window = 8;
      policy.snapkv_budget = 12;
      policy.threshold = 0.85;
      const std::vector<RequestResult> expected = cpu_->generate(prompts, 24, policy, {});
      const std::vector<RequestResult> got = cuda_->generate(prompts, 24, policy, {});
      ASSERT_EQ(got.size(), expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const std::string where = name + " (" + lazy_detect_name(detect) + "), prompt " + std::to_string(i);
        EXPECT_EQ(got[i].tokens, expected[i].tokens) << where;
        EXPECT_EQ(got[i].kv.lazy_layers, expected[i].kv.lazy_layers) << where;
        EXPECT_EQ(got[i].kv.kv_tokens_per_layer, expected[i].kv.kv_tokens_per_layer) << where;
      }
    }
  }
}

TEST_F(CudaEndToEnd, SeededSamplingGivesTheCpuTokens) {
  const std::vector<std::vector<int32_t>> prompts = {
      tokenizer_->encode("Once upon a time, there was a little girl named Lily.", true),
      tokenizer_->encode("Tom had a big red ball. He liked to throw it high in the sky and catch it. His dog", true),
      tokenizer_->encode("One day", true), tokenizer_->encode("The cat sat on the mat.", true)};
  // One batch, so each step draws every row in one sample_tokens call: three
  // sampled requests (each its own seed) and a greedy one among them.
  const std::vector<SamplingParams> sampling = {
      {0.8f, 40, 0.9f, 1234}, {0.8f, 40, 0.9f, 99}, {1.0f, 0, 1.0f, 7}, {0.f, 0, 1.f, 0}};
  const int64_t new_tokens = 32;
  const std::vector<RequestResult> expected = cpu_->generate(prompts, new_tokens, {}, {}, sampling);
  const std::vector<RequestResult> got = cuda_->generate(prompts, new_tokens, {}, {}, sampling);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].tokens.size(), size_t(new_tokens)) << "prompt " << i;
    EXPECT_EQ(got[i].tokens, expected[i].tokens) << "prompt " << i;
  }
  // The sampled requests really sampled: greedy gives other tokens.
  const std::vector<RequestResult> greedy = cpu_->generate(prompts, new_tokens, {}, {});
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(expected[i].tokens, greedy[i].tokens) << "prompt " << i;
  EXPECT_EQ(expected[3].tokens, greedy[3].tokens);
}

}  // namespace
}  // namespace slkv
