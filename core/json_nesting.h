#pragma once
// How deeply arrays and objects nest in JSON, found without recursion, in a
// text before it is parsed or in a parsed value. Users' JSON (a request body,
// a chat script line, a message array) may nest 100000 levels:
// nlohmann::json parses that, but nlohmann::ordered_json's parser, and
// anything that walks a value recursively (a copy, a dump, the conversion for
// a chat template), overflowed the stack. Entry points refuse what nests
// deeper than kMaxJsonNesting first.
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slkv {

// Deeper than any real message or tool call (Python's json stops near 1000).
constexpr size_t kMaxJsonNesting = 128;

// The error every entry point gives: "<what> nests more than 128 levels deep".
inline std::string json_too_deep_message(const std::string& what) {
  return what + " nests more than " + std::to_string(kMaxJsonNesting) + " levels deep";
}

// The nesting depth of a JSON text: brackets and braces outside strings, so
// a malformed text counts too (its parser then names what is wrong).
inline size_t json_text_nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// The nesting depth of `value` (a scalar: 0, [] or {}: 1, [[1]]: 2), counted
// no further than limit + 1.
template <class Json>
size_t json_nesting_depth(const Json& value, size_t limit = kMaxJsonNesting) {
  size_t deepest = 0;
  std::vector<std::pair<const Json*, size_t>> pending{{&value, 0}};
  while (!pending.empty()) {
    const auto [json, parent_depth] = pending.back();
    pending.pop_back();
    if (!json->is_array() && !json->is_object()) continue;
    const size_t depth = parent_depth + 1;
    deepest = std::max(deepest, depth);
    if (depth > limit) break;
    for (const Json& child : *json) pending.emplace_back(&child, depth);
  }
  return deepest;
}

}  // namespace slkv
