#include "runtime/tokenizer/tokenizer_added_tokens.h"

#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {
namespace {

// The code point of the character ending just before byte `end` (end > 0).
uint32_t code_point_before(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  return decode_utf8(text, start).code_point;
}

}  // namespace

void AddedTokenMatcher::add(const AddedToken& token, const std::string& pattern) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (const char c : pattern) {
    const auto byte = static_cast<uint8_t>(c);
    int32_t child = -1;
    for (const auto& [b, index] : nodes_[node].children) {
      if (b == byte) child = index;
    }
    if (child < 0) {
      child = static_cast<int32_t>(nodes_.size());
      nodes_[node].children.emplace_back(byte, child);
      nodes_.emplace_back();
    }
    node = child;
  }
  // A duplicated pattern keeps its first token.
  if (nodes_[node].token < 0) {
    nodes_[node].token = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(token);
  }
  starts_[static_cast<uint8_t>(pattern[0])] = true;
}

std::pair<int32_t, size_t> AddedTokenMatcher::longest_at(std::string_view text, size_t pos) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto byte = static_cast<uint8_t>(text[i]);
    int32_t child = -1;
    for (const auto& [b, index] : nodes_[node].children) {
      if (b == byte) child = index;
    }
    if (child < 0) break;
    node = child;
    if (nodes_[node].token >= 0) best = {nodes_[node].token, i + 1 - pos};
  }
  return best;
}

bool AddedTokenMatcher::accepts(const AddedToken& token, std::string_view text, size_t begin,
                                size_t end) const {
  if (!token.single_word) return true;
  // single_word: no word character directly before or after the match.
  if (begin > 0 && is_word_character(code_point_before(text, begin))) return false;
  if (end < text.size() && is_word_character(decode_utf8(text, end).code_point)) return false;
  return true;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextSpan>& spans) const {
  size_t text_start = 0;  // start of the plain text not yet emitted
  size_t pos = 0;
  while (pos < text.size()) {
    if (!starts_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [index, length] = longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    if (!accepts(token, text, pos, pos + length)) {
      pos += length;  // like Hugging Face: a rejected match is not rescanned
      continue;
    }
    size_t begin = pos;
    size_t end = pos + length;
    if (token.lstrip) {
      while (begin > text_start) {
        size_t start = begin - 1;  // back to the lead byte of the previous character
        while (start > text_start && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
        if (!is_unicode_whitespace(decode_utf8(text, start).code_point)) break;
        begin = start;
      }
    }
    if (token.rstrip) {
      while (end < text.size()) {
        const Utf8Char c = decode_utf8(text, end);
        if (!is_unicode_whitespace(c.code_point)) break;
        end += c.length;
      }
    }
    if (begin > text_start) spans.push_back({text_start, begin, -1});
    spans.push_back({begin, end, token.id});
    text_start = end;
    pos = end;
  }
  if (text.size() > text_start) spans.push_back({text_start, text.size(), -1});
}

}  // namespace slkv
