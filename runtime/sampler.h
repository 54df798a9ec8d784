#pragma once
// Sampler: a request's sampling parameters and its seeded random stream.
// next_draw() says how to pick the next token (kernels/token_draw.h): greedy
// when temperature is 0 (or below kMinSampledTemperature), else temperature,
// top-k, top-p and a uniform number from the request's generator, so a fixed
// seed reproduces a run exactly on any backend (Backend::sample_tokens
// applies it).
#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "kernels/token_draw.h"

namespace slkv {

// Temperatures below this draw greedily, as vLLM's do: logits divided by a
// smaller one overflow to infinity (1e-38 drew garbage tokens), and above
// it a draw is greedy in all but name anyway.
constexpr float kMinSampledTemperature = 1e-5f;

struct SamplingParams {
  float temperature = 0.f;  // 0 (or below kMinSampledTemperature) = greedy
  int64_t top_k = 0;        // 0 = no top-k filter
  float top_p = 1.f;        // 1 = no nucleus filter
  uint64_t seed = 0;

  // Throws slkv::Error naming the offending value.
  void validate() const;
  bool greedy() const { return temperature < kMinSampledTemperature; }
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // The next token's draw; advances the random stream unless greedy.
  TokenDraw next_draw();

 private:
  SamplingParams params_;
  std::mt19937_64 generator_;
};

}  // namespace slkv
