#include "kernels/cpu/sampling.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <span>
#include <vector>

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

using Candidate = std::pair<float, int32_t>;  // (z, id)

// Candidate order (kernels/token_draw.h): z descending, then id ascending.
bool precedes(const Candidate& a, const Candidate& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// Ranges this short are sorted and walked rather than partitioned further.
constexpr size_t kSortedRun = 64;

// Where the running total of weights, over candidates in candidate order,
// first crosses a target: the candidate's position and the total before it.
struct Crossing {
  size_t index;
  double before;
};

// The first candidate of `candidates`, in candidate order, at which the
// running total of weight[id] reaches `target` (inclusive) or exceeds it;
// the last candidate in order when rounding leaves the target out of reach.
// Found by partitioning around pivots (a quickselect on the running total),
// not by sorting: expected linear time however deep into the order the
// crossing lies. A flat row's draw lies halfway down a 32000-token order,
// where sorting the whole row cost 3.2 ms, and sorting only as far as the
// walk went, in doubling blocks, cost as much. Afterwards the candidates
// before `index` are exactly those that precede it. The totals are summed
// part by part, so they can differ from a running sum in order in the last
// bits, which matters only to a target within ~1e-16 of a boundary.
Crossing find_crossing(std::span<Candidate> candidates, const std::vector<float>& weight, double target,
                       bool inclusive) {
  auto crosses = [&](double total) { return inclusive ? total >= target : total > target; };
  const auto at = [&](size_t i) { return candidates.begin() + static_cast<std::ptrdiff_t>(i); };
  size_t lo = 0, hi = candidates.size();
  double before = 0;
  while (hi - lo > kSortedRun) {
    // Median of three as the pivot, moved to the end of the range.
    const size_t mid = lo + (hi - lo) / 2;
    if (precedes(candidates[mid], candidates[lo])) std::swap(candidates[mid], candidates[lo]);
    if (precedes(candidates[hi - 1], candidates[lo])) std::swap(candidates[hi - 1], candidates[lo]);
    if (precedes(candidates[mid], candidates[hi - 1])) std::swap(candidates[mid], candidates[hi - 1]);
    const Candidate pivot = candidates[hi - 1];
    const size_t split = static_cast<size_t>(
        std::partition(at(lo), at(hi - 1), [&](const Candidate& c) { return precedes(c, pivot); }) -
        candidates.begin());
    std::swap(candidates[split], candidates[hi - 1]);  // [lo, split) precede the pivot, (split, hi) follow it
    double preceding = 0;
    for (size_t i = lo; i < split; ++i) preceding += weight[size_t(candidates[i].second)];
    if (crosses(before + preceding)) {
      hi = split;
      continue;
    }
    before += preceding;
    const double through_pivot = before + weight[size_t(pivot.second)];
    if (crosses(through_pivot)) return {split, before};
    before = through_pivot;
    lo = split + 1;
  }
  std::sort(at(lo), at(hi), precedes);
  for (size_t i = lo; i < hi; ++i) {
    const double after = before + weight[size_t(candidates[i].second)];
    if (crosses(after) || i + 1 == hi) return {i, before};
    before = after;
  }
  return {hi - 1, before};  // an empty range: not reached, the draw always keeps a candidate
}

// Above this top_k the kept candidates are cut out by selection (linear);
// up to it a partial sort (one pass, each element against the worst kept)
// is quicker and leaves them in order.
constexpr int64_t kSortedTopK = 1024;

}  // namespace

int32_t draw_token(std::span<const float> logits, const TokenDraw& draw, std::vector<Candidate>& candidates) {
  if (draw.temperature == 0.f) return argmax(logits);
  SLKV_CHECK(!logits.empty(), "drawing a token from an empty row");

  candidates.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates[i] = {logits[i] / draw.temperature, static_cast<int32_t>(i)};
  // top_k keeps the first top_k candidates in order.
  if (draw.top_k > 0 && static_cast<size_t>(draw.top_k) < candidates.size()) {
    const auto kept_end = candidates.begin() + static_cast<std::ptrdiff_t>(draw.top_k);
    if (draw.top_k <= kSortedTopK)
      std::partial_sort(candidates.begin(), kept_end, candidates.end(), precedes);
    else
      std::nth_element(candidates.begin(), kept_end, candidates.end(), precedes);
    candidates.erase(kept_end, candidates.end());
  }

  // Softmax weights exp(z - max z) of the kept candidates, by id, and their
  // total (in any order: see find_crossing).
  float max_z = candidates.front().first;
  for (const Candidate& c : candidates) max_z = std::max(max_z, c.first);
  thread_local std::vector<float> weight;  // reused across calls
  weight.resize(logits.size());
  double total = 0;
  for (const Candidate& c : candidates) total += weight[size_t(c.second)] = std::exp(c.first - max_z);

  std::span<Candidate> kept(candidates);
  // Nucleus: the shortest prefix whose probability reaches top_p.
  if (draw.top_p < 1.f) {
    const Crossing last = find_crossing(kept, weight, static_cast<double>(draw.top_p) * total, /*inclusive=*/true);
    kept = kept.first(last.index + 1);
    total = last.before + weight[size_t(kept.back().second)];
  }
  // Inverse CDF: the first candidate whose running weight exceeds the draw.
  const Crossing drawn = find_crossing(kept, weight, draw.uniform * total, /*inclusive=*/false);
  return kept[drawn.index].second;
}

}  // namespace slkv::cpu
