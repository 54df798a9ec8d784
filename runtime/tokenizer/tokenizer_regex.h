#pragma once
// Regex: a PCRE2 pattern compiled in Unicode mode (PCRE2_UTF | PCRE2_UCP, so
// \p{L}, \s, look-ahead behave as in the Hugging Face pre-tokenizer regexes),
// JIT-compiled when available. Immutable after construction: one instance
// may be used from several threads.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slkv {

class Regex {
 public:
  // Compile errors throw slkv::Error starting with `where`.
  Regex(const std::string& pattern, const std::string& where);

  // Appends the non-empty, non-overlapping matches of `text` (valid UTF-8),
  // left to right, as [begin, end) byte offsets.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& matches) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
};

}  // namespace slkv
