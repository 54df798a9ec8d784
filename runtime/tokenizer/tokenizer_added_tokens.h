#pragma once
// Added tokens (tokenizer.json "added_tokens"): strings such as "<s>" or
// "<|eot_id|>" that are cut out of the text before normalization and BPE and
// map straight to their id. AddedTokenMatcher finds them leftmost-longest
// with a byte trie, honouring lstrip / rstrip / single_word.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slkv {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // dropped by decode(skip_special_tokens)
  bool normalized = false;   // matched in normalized rather than raw text
  bool lstrip = false;       // swallows whitespace on its left
  bool rstrip = false;       // swallows whitespace on its right
  bool single_word = false;  // only matches as a whole word
};

// A stretch [begin, end) of text: plain text (token_id -1) or one added token.
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
  int32_t token_id = -1;
};

class AddedTokenMatcher {
 public:
  // `pattern` is the text to look for (the token's content, normalized for
  // normalized tokens).
  void add(const AddedToken& token, const std::string& pattern);
  bool empty() const { return tokens_.empty(); }

  // Cuts `text` (valid UTF-8) into non-empty plain-text spans and
  // added-token spans, in order.
  void split(std::string_view text, std::vector<TextSpan>& spans) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // byte -> node index
    int32_t token = -1;                                 // index into tokens_
  };
  // Longest pattern starting at text[pos]: {token index, length} or {-1, 0}.
  std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;
  bool accepts(const AddedToken& token, std::string_view text, size_t begin, size_t end) const;

  std::vector<Node> nodes_{Node{}};
  std::vector<AddedToken> tokens_;
  bool starts_[256] = {};  // bytes some pattern starts with (fast skip)
};

}  // namespace slkv
