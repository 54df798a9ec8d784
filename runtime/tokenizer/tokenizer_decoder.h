#pragma once
// TokenDecoder: the tokenizer.json "decoder" chain. Every supported chain
// reduces to "each token becomes some bytes" (Replace, ByteFallback,
// ByteLevel, Metaspace, per-token Strip) plus "strip N leading characters of
// the whole text" (a Strip after Fuse, the SentencePiece leading space).
// That shape lets decode() and streaming share one code path: the output is
// the concatenated bytes, leading strip applied, read as UTF-8 with invalid
// bytes replaced by U+FFFD.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/tokenizer_decode_stream.h"
#include "runtime/tokenizer/tokenizer_json.h"

namespace slkv {

class Regex;

class TokenDecoder {
 public:
  // `value` is the "decoder" field (null = tokens are concatenated as is).
  static TokenDecoder from_json(const Json& value, const JsonPath& path);

  DecodeStream start() const { return DecodeStream{{}, true, strip_start_}; }
  // Appends the text that became final with `token` (a vocabulary string).
  void push(DecodeStream& stream, std::string_view token, std::string& out) const;
  // Appends what is still held back (an incomplete character becomes U+FFFD).
  void finish(DecodeStream& stream, std::string& out) const;
  // The bytes `token` adds after other tokens: no first-token or whole-text
  // leading strip (may be part of a UTF-8 character).
  std::string bytes_in_text(std::string_view token) const { return token_bytes(token, /*first=*/false); }

 private:
  enum class Kind { Replace, ByteFallback, ByteLevel, Strip, Metaspace };
  struct Step {
    Kind kind = Kind::Replace;
    std::string pattern;   // Replace literal; Metaspace replacement
    std::string content;   // Replace replacement; Strip character
    std::shared_ptr<const Regex> regex;  // Replace with a Regex pattern
    size_t start = 0, stop = 0;          // Strip counts
    bool strip_first = false;            // Metaspace: first token loses its replacements
  };
  void add_steps(const Json& value, const JsonPath& path);
  std::string token_bytes(std::string_view token, bool first) const;

  std::vector<Step> steps_;
  bool fused_ = false;        // a Fuse/ByteLevel was seen: later Strips act on the whole text
  std::string strip_content_;  // the character a whole-text Strip removes
  size_t strip_start_ = 0;     // how many of them, at the start
};

}  // namespace slkv
