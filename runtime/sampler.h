#pragma once
// Sampler: a request's sampling parameters and its seeded random stream.
// next_draw() says how to pick the next token (kernels/token_draw.h): greedy
// when temperature is 0, else temperature, top-k, top-p and a uniform number
// from the request's generator, so a fixed seed reproduces a run exactly on
// any backend (Backend::sample_tokens applies it).
#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "kernels/token_draw.h"

namespace slkv {

struct SamplingParams {
  float temperature = 0.f;  // 0 = greedy
  int64_t top_k = 0;        // 0 = no top-k filter
  float top_p = 1.f;        // 1 = no nucleus filter
  uint64_t seed = 0;

  // Throws slkv::Error naming the offending value.
  void validate() const;
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
