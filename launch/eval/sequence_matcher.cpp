#include "launch/eval/sequence_matcher.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv::eval {

SequenceMatcher::SequenceMatcher(std::u32string a, std::u32string b) : a_(std::move(a)), b_(std::move(b)) {
  // difflib's __chain_b: index every element of b ...
  for (size_t j = 0; j < b_.size(); ++j) b2j_[b_[j]].push_back(j);
  // ... then drop the "popular" ones (autojunk): with 200 or more elements, one
  // occurring more than 1 + len(b)//100 times is not indexed. They are not
  // junk: a match may still be extended over them.
  if (b_.size() >= 200) {
    const size_t ntest = b_.size() / 100 + 1;
    for (auto it = b2j_.begin(); it != b2j_.end();) {
      if (it->second.size() > ntest)
        it = b2j_.erase(it);
      else
        ++it;
    }
  }
}

SequenceMatcher::Match SequenceMatcher::find_longest_match(size_t alo, size_t ahi, size_t blo, size_t bhi) const {
  size_t besti = alo, bestj = blo, bestsize = 0;
  // j2len[j]: length of the match ending at a[i-1], b[j]; only the previous row is kept.
  std::unordered_map<size_t, size_t> j2len, newj2len;
  for (size_t i = alo; i < ahi; ++i) {
    newj2len.clear();
    const auto found = b2j_.find(a_[i]);
    if (found != b2j_.end()) {
      for (size_t j : found->second) {
        if (j < blo) continue;
        if (j >= bhi) break;
        size_t previous = 0;
        if (j > 0) {
          const auto p = j2len.find(j - 1);
          if (p != j2len.end()) previous = p->second;
        }
        const size_t k = previous + 1;
        newj2len[j] = k;
        if (k > bestsize) {
          besti = i + 1 - k;
          bestj = j + 1 - k;
          bestsize = k;
        }
      }
    }
    std::swap(j2len, newj2len);
  }
  // Extend over equal elements on both sides (popular elements are not junk,
  // and with isjunk=None nothing is junk, so difflib's junk passes do nothing).
  while (besti > alo && bestj > blo && a_[besti - 1] == b_[bestj - 1]) {
    --besti;
    --bestj;
    ++bestsize;
  }
  while (besti + bestsize < ahi && bestj + bestsize < bhi && a_[besti + bestsize] == b_[bestj + bestsize]) ++bestsize;
  return {besti, bestj, bestsize};
}

std::vector<SequenceMatcher::Match> SequenceMatcher::matching_blocks() const {
  // difflib's explicit stack (a list used with pop()), not recursion.
  struct Range {
    size_t alo, ahi, blo, bhi;
  };
  std::vector<Range> queue{{0, a_.size(), 0, b_.size()}};
  std::vector<Match> blocks;
  while (!queue.empty()) {
    const Range r = queue.back();
    queue.pop_back();
    const Match m = find_longest_match(r.alo, r.ahi, r.blo, r.bhi);
    if (m.size == 0) continue;
    blocks.push_back(m);
    if (r.alo < m.a && r.blo < m.b) queue.push_back({r.alo, m.a, r.blo, m.b});
    if (m.a + m.size < r.ahi && m.b + m.size < r.bhi) queue.push_back({m.a + m.size, r.ahi, m.b + m.size, r.bhi});
  }
  std::sort(blocks.begin(), blocks.end(),
            [](const Match& x, const Match& y) { return std::tie(x.a, x.b, x.size) < std::tie(y.a, y.b, y.size); });
  // Merge blocks that touch in both sequences.
  std::vector<Match> merged;
  Match current{0, 0, 0};
  for (const Match& m : blocks) {
    if (current.a + current.size == m.a && current.b + current.size == m.b) {
      current.size += m.size;
    } else {
      if (current.size > 0) merged.push_back(current);
      current = m;
    }
  }
  if (current.size > 0) merged.push_back(current);
  merged.push_back({a_.size(), b_.size(), 0});
  return merged;
}

double SequenceMatcher::ratio() const {
  size_t matches = 0;
  for (const Match& m : matching_blocks()) matches += m.size;
  const size_t length = a_.size() + b_.size();
  if (length == 0) return 1.0;
  return 2.0 * static_cast<double>(matches) / static_cast<double>(length);
}

int fuzz_ratio(std::string_view s1, std::string_view s2) {
  if (s1 == s2) return 100;
  if (s1.empty() || s2.empty()) return 0;
  const double ratio = SequenceMatcher(to_code_points(s1), to_code_points(s2)).ratio();
  // Python's round() of a float: to nearest, ties to even (the default FP rounding mode).
  return static_cast<int>(std::nearbyint(100.0 * ratio));
}

}  // namespace slkv::eval
