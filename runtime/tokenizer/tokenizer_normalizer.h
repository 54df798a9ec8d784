#pragma once
// Normalizer: the tokenizer.json "normalizer" chain, applied to each piece of
// text between added tokens. Supported: Sequence, Prepend, Replace (String or
// Regex pattern), NFC/NFD/NFKC/NFKD (utf8proc), Lowercase, Strip.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/tokenizer_json.h"

namespace slkv {

class Regex;

class Normalizer {
 public:
  // `value` is the "normalizer" field (null = no normalization).
  static Normalizer from_json(const Json& value, const JsonPath& path);

  bool is_identity() const { return steps_.empty(); }
  // `text` must be valid UTF-8; so is the result.
  std::string apply(std::string_view text) const;

 private:
  enum class Kind { Prepend, Replace, Unicode, Lowercase, Strip };
  struct Step {
    Kind kind = Kind::Prepend;
    std::string text;     // Prepend: the prefix; Replace: the literal pattern
    std::string content;  // Replace: the replacement
    std::shared_ptr<const Regex> regex;  // Replace with a Regex pattern
    int utf8proc_options = 0;            // Unicode: the normalization form
    bool strip_left = false, strip_right = false;
  };
  void add_steps(const Json& value, const JsonPath& path);
  std::vector<Step> steps_;
};

}  // namespace slkv
