#include "kernels/cpu/sampling.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "kernels/cpu/simd.h"
#include "core/error.h"

namespace slkv::cpu {

using simd::kLanes;

int32_t argmax(std::span<const float> values) {
  SLKV_CHECK(!values.empty(), "argmax of nothing");
  const float* v = values.data();
  const int64_t n = static_cast<int64_t>(values.size());
  // std::max_element's rule, kept: a NaN never wins, unless it comes first
  // (nothing compares greater than it).
  if (std::isnan(v[0])) return 0;
  // The largest value, 16 lanes at a time: vmaxps returns its second operand
  // when the first is NaN, so NaNs drop out. Then the first index holding it
  // (-0 and +0 compare equal, so the lower of their ids wins, as before).
  __m512 best = _mm512_set1_ps(v[0]);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) best = _mm512_max_ps(_mm512_loadu_ps(v + i), best);
  const __mmask16 tail = simd::tail_mask(n - i);
  if (tail) best = _mm512_max_ps(_mm512_mask_loadu_ps(best, tail, v + i), best);
  const __m512 largest = _mm512_set1_ps(_mm512_reduce_max_ps(best));
  for (i = 0; i < n; i += kLanes) {
    const __mmask16 lanes = n - i >= kLanes ? __mmask16(0xffff) : simd::tail_mask(n - i);
    const __mmask16 equal = _mm512_mask_cmp_ps_mask(lanes, _mm512_maskz_loadu_ps(lanes, v + i), largest, _CMP_EQ_OQ);
    if (equal) return static_cast<int32_t>(i + std::countr_zero(unsigned(equal)));
  }
  return 0;  // not reached: `largest` is one of the values
}

namespace {

// Candidate order (kernels/token_draw.h): z descending, then id ascending.
bool precedes(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// The candidates put in candidate order from the front, only as far as a
// walk over them reaches: a trained model's draw stops within its first few
// dozen candidates, where sorting the whole vocabulary cost 3.4 ms per row of
// 32000 and 16-20 ms of 128256 (kernels_bench SampleTokens).
class SortedPrefix {
 public:
  explicit SortedPrefix(std::vector<std::pair<float, int32_t>>& candidates) : candidates_(candidates) {}

  // The n-th candidate in order (n < size).
  const std::pair<float, int32_t>& at(size_t n) {
    if (n >= sorted_) extend(n + 1);
    return candidates_[n];
  }

 private:
  // Sorts at least the first n, doubling the sorted part each time, so a
  // walk to the end costs about one full sort, not one per candidate. A
  // partial sort of a short block is one pass over the rest, each element
  // compared with the worst of the block.
  void extend(size_t n) {
    const size_t end = std::min(candidates_.size(), std::max({n, 2 * sorted_, kFirstBlock}));
    const auto first = candidates_.begin() + static_cast<std::ptrdiff_t>(sorted_);
    std::partial_sort(first, candidates_.begin() + static_cast<std::ptrdiff_t>(end), candidates_.end(), precedes);
    sorted_ = end;
  }

  static constexpr size_t kFirstBlock = 64;
  std::vector<std::pair<float, int32_t>>& candidates_;
  size_t sorted_ = 0;  // candidates_[0, sorted_) are in order, and precede the rest
};

// Above this top_k, the kept candidates are cut out by selection (linear) and
// ordered lazily; up to it, a partial sort orders them in one pass.
constexpr int64_t kSortedTopK = 1024;

}  // namespace

int32_t draw_token(std::span<const float> logits, const TokenDraw& draw,
                   std::vector<std::pair<float, int32_t>>& candidates) {
  if (draw.temperature == 0.f) return argmax(logits);
  SLKV_CHECK(!logits.empty(), "drawing a token from an empty row");

  candidates.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates[i] = {logits[i] / draw.temperature, static_cast<int32_t>(i)};
  SortedPrefix order(candidates);
  // top_k keeps the first top_k candidates in order.
  size_t kept = candidates.size();
  if (draw.top_k > 0 && static_cast<size_t>(draw.top_k) < kept) {
    kept = static_cast<size_t>(draw.top_k);
    if (draw.top_k <= kSortedTopK) {
      order.at(kept - 1);
    } else {
      const auto kept_end = candidates.begin() + static_cast<std::ptrdiff_t>(kept);
      std::nth_element(candidates.begin(), kept_end, candidates.end(), precedes);
      candidates.erase(kept_end, candidates.end());
    }
  }

  // Softmax weights exp(z - max z) of the kept candidates, summed in any
  // order: the total can differ from a sum in candidate order only in its
  // last bits, which decide nothing but a target within ~1e-16 of a boundary.
  float max_z = candidates.front().first;
  for (size_t n = 0; n < kept; ++n) max_z = std::max(max_z, candidates[n].first);
  auto weight = [&](const std::pair<float, int32_t>& candidate) { return std::exp(candidate.first - max_z); };
  double total = 0;
  for (size_t n = 0; n < kept; ++n) total += weight(candidates[n]);

  // Nucleus: the shortest prefix whose probability reaches top_p.
  if (draw.top_p < 1.f) {
    const double target = static_cast<double>(draw.top_p) * total;
    double cumulative = 0;
    size_t prefix = 0;
    while (prefix < kept) {
      cumulative += weight(order.at(prefix));
      ++prefix;
      if (cumulative >= target) break;
    }
    kept = prefix;
    total = cumulative;
  }
  // Inverse CDF: the first candidate whose running weight exceeds the draw.
  const double target = draw.uniform * total;
  double cumulative = 0;
  for (size_t n = 0; n < kept; ++n) {
    const auto& candidate = order.at(n);
    cumulative += weight(candidate);
    if (cumulative > target) return candidate.second;
  }
  return order.at(kept - 1).second;  // rounding left a sliver: take the last kept token
}

}  // namespace slkv::cpu
