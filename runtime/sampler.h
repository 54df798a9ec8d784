#pragma once
// Sampler: turns one row of logits into a token id. Greedy when temperature
// is 0; otherwise temperature, then top-k, then top-p (nucleus), then a draw
// from a seeded generator, so a fixed seed reproduces a run exactly.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

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
  int32_t sample(std::span<const float> logits);

 private:
  SamplingParams params_;
  std::mt19937_64 generator_;
  std::vector<std::pair<float, int32_t>> candidates_;  // scratch: (probability, id)
};

// Index of the largest value; the lowest index wins ties.
int32_t argmax(std::span<const float> values);

}  // namespace slkv
