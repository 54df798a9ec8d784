#pragma once
// PreTokenizer: the tokenizer.json "pre_tokenizer" chain that cuts normalized
// text into the words BPE encodes one by one. Supported: Sequence, Split
// (Regex via PCRE2, or String; all five behaviours, invert), ByteLevel
// (GPT-2 byte mapping, optional GPT-2 regex and prefix space) and Metaspace
// (the legacy SentencePiece "▁" handling).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/tokenizer_json.h"

namespace slkv {

class Regex;

class PreTokenizer {
 public:
  // `value` is the "pre_tokenizer" field (null = the whole text is one word).
  static PreTokenizer from_json(const Json& value, const JsonPath& path);

  // Appends the words of one normalized segment (valid UTF-8, non-empty).
  // `at_text_start`: the segment begins the input, for Metaspace's
  // prepend_scheme "first".
  void split(std::string_view segment, bool at_text_start, std::vector<std::string>& words) const;

 private:
  enum class Kind { Split, ByteLevel, Metaspace };
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  enum class Prepend { Always, First, Never };
  struct Step {
    Kind kind = Kind::Split;
    std::shared_ptr<const Regex> regex;  // Split Regex pattern; ByteLevel use_regex
    std::string literal;                 // Split String pattern; Metaspace replacement
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    bool add_prefix_space = false;       // ByteLevel
    Prepend prepend = Prepend::Always;   // Metaspace
    bool metaspace_split = true;         // Metaspace: one word per "▁"
  };

  void add_steps(const Json& value, const JsonPath& path);
  static void split_piece(const std::string& piece, const Step& step,
                          std::vector<std::string>& out);
  static void apply_step(const Step& step, std::string& piece, bool first_piece,
                         std::vector<std::string>& out);

  std::vector<Step> steps_;
};

}  // namespace slkv
