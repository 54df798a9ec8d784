#pragma once
// Python's difflib.SequenceMatcher (isjunk=None, autojunk=True) over Unicode
// code points, and fuzzywuzzy's fuzz.ratio built on it: LongBench scores code
// completion (lcc, repobench-p) with fuzz.ratio, and fuzzywuzzy without
// python-Levenshtein falls back to difflib. Every step follows CPython's
// difflib.py so ratios agree to the last bit.
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer/unicode_utf8.h"  // to_code_points

namespace slkv::eval {

class SequenceMatcher {
 public:
  struct Match {
    size_t a = 0;     // start in a
    size_t b = 0;     // start in b
    size_t size = 0;  // a[a:a+size] == b[b:b+size]
  };

  SequenceMatcher(std::u32string a, std::u32string b);

  // The longest matching block in a[alo:ahi] and b[blo:bhi]; among equals the
  // one starting earliest in a, then earliest in b (as difflib).
  Match find_longest_match(size_t alo, size_t ahi, size_t blo, size_t bhi) const;

  // Non-overlapping matching blocks in order, adjacent ones merged, ending
  // with the sentinel {len(a), len(b), 0}.
  std::vector<Match> matching_blocks() const;

  // 2.0 * matches / (len(a) + len(b)); 1.0 when both are empty.
  double ratio() const;

 private:
  std::u32string a_;
  std::u32string b_;
  // b2j: each element of b (not "popular") -> its positions in b, ascending.
  std::unordered_map<char32_t, std::vector<size_t>> b2j_;
};

// fuzzywuzzy 0.18 fuzz.ratio(s1, s2): 100 when equal (even both empty), 0
// when either is empty, else int(round(100 * ratio)) with Python's
// round-half-to-even.
int fuzz_ratio(std::string_view s1, std::string_view s2);

}  // namespace slkv::eval
