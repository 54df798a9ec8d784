#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/error.h"

namespace slkv {

void SamplingParams::validate() const {
  if (!(temperature >= 0.f) || !std::isfinite(temperature))
    throw Error("--temperature must be a finite number >= 0, got " + std::to_string(temperature));
  if (top_k < 0) throw Error("--top-k must be >= 0, got " + std::to_string(top_k));
  if (!(top_p > 0.f && top_p <= 1.f)) throw Error("--top-p must be in (0, 1], got " + std::to_string(top_p));
}

Sampler::Sampler(const SamplingParams& params) : params_(params), generator_(params.seed) { params.validate(); }

int32_t argmax(std::span<const float> values) {
  SLKV_CHECK(!values.empty(), "argmax of nothing");
  return static_cast<int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (params_.temperature == 0.f) return argmax(logits);

  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    candidates_[i] = {logits[i] / params_.temperature, static_cast<int32_t>(i)};
  auto by_logit_descending = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) keep = static_cast<size_t>(params_.top_k);
  // Only the kept head needs ordering; top-p below needs it sorted.
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit_descending);
  candidates_.resize(keep);

  // Softmax over the kept candidates, shifted by the max for stability.
  const float max_logit = candidates_.front().first;
  double total = 0;
  for (auto& [value, id] : candidates_) {
    value = std::exp(value - max_logit);
    total += value;
  }
  // Nucleus: the smallest prefix whose probability reaches top_p.
  if (params_.top_p < 1.f) {
    double cumulative = 0;
    size_t prefix = 0;
    while (prefix < candidates_.size()) {
      cumulative += candidates_[prefix].first / total;
      ++prefix;
      if (cumulative >= params_.top_p) break;
    }
    candidates_.resize(prefix);
    total = 0;
    for (const auto& candidate : candidates_) total += candidate.first;
  }
  double draw = std::uniform_real_distribution<double>(0.0, total)(generator_);
  for (const auto& [weight, id] : candidates_) {
    draw -= weight;
    if (draw < 0) return id;
  }
  return candidates_.back().second;  // rounding left a sliver: take the last kept token
}

}  // namespace slkv
