#include "kernels/cpu/sampling.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace slkv::cpu {

int32_t argmax(std::span<const float> values) {
  SLKV_CHECK(!values.empty(), "argmax of nothing");
  return static_cast<int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

int32_t draw_token(std::span<const float> logits, const TokenDraw& draw,
                   std::vector<std::pair<float, int32_t>>& candidates) {
  if (draw.temperature == 0.f) return argmax(logits);
  SLKV_CHECK(!logits.empty(), "drawing a token from an empty row");

  candidates.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates[i] = {logits[i] / draw.temperature, static_cast<int32_t>(i)};
  auto by_logit_descending = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = candidates.size();
  if (draw.top_k > 0 && static_cast<size_t>(draw.top_k) < keep) keep = static_cast<size_t>(draw.top_k);
  // Only the kept head needs ordering; top-p below needs it sorted.
  std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(), by_logit_descending);
  candidates.resize(keep);

  // Softmax weights of the kept candidates, shifted by the max for stability.
  const float max_logit = candidates.front().first;
  double total = 0;
  for (auto& [value, id] : candidates) {
    value = std::exp(value - max_logit);
    total += value;
  }
  // Nucleus: the smallest prefix whose probability reaches top_p.
  if (draw.top_p < 1.f) {
    const double target = static_cast<double>(draw.top_p) * total;
    double cumulative = 0;
    size_t prefix = 0;
    while (prefix < candidates.size()) {
      cumulative += candidates[prefix].first;
      ++prefix;
      if (cumulative >= target) break;
    }
    candidates.resize(prefix);
    total = cumulative;
  }
  // Inverse CDF: the first candidate whose running weight exceeds the draw.
  const double target = draw.uniform * total;
  double cumulative = 0;
  for (const auto& [weight, id] : candidates) {
    cumulative += weight;
    if (cumulative > target) return id;
  }
  return candidates.back().second;  // rounding left a sliver: take the last kept token
}

}  // namespace slkv::cpu
