#include "runtime/tokenizer/tokenizer_decoder.h"

#include <utility>

#include "runtime/tokenizer/tokenizer_byte_level.h"
#include "runtime/tokenizer/tokenizer_regex.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {
namespace {

// "<0x41>" -> 0x41, or -1 for any other token (the ByteFallback rule).
int fallback_byte(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return -1;
  int value = 0;
  for (const char c : token.substr(3, 2)) {
    value *= 16;
    if (c >= '0' && c <= '9') value += c - '0';
    else if (c >= 'A' && c <= 'F') value += c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') value += c - 'a' + 10;
    else return -1;
  }
  return value;
}

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; !pattern.empty() && (hit = text.find(pattern, pos)) != std::string_view::npos;) {
    out.append(text.substr(pos, hit - pos)).append(content);
    pos = hit + pattern.size();
  }
  out.append(text.substr(pos));
  return out;
}

// Removes up to `start` leading and `stop` trailing `content` characters.
std::string strip_token(std::string_view token, std::string_view content, size_t start, size_t stop) {
  if (content.empty()) return std::string(token);
  for (; start > 0 && token.substr(0, content.size()) == content; --start) {
    token.remove_prefix(content.size());
  }
  for (; stop > 0 && token.size() >= content.size() &&
         token.substr(token.size() - content.size()) == content;
       --stop) {
    token.remove_suffix(content.size());
  }
  return std::string(token);
}

}  // namespace

TokenDecoder TokenDecoder::from_json(const Json& value, const JsonPath& path) {
  TokenDecoder decoder;
  if (!value.is_null()) decoder.add_steps(value, path);
  return decoder;
}

void TokenDecoder::add_steps(const Json& value, const JsonPath& path) {
  const std::string type = json_type(value, path);
  Step step;
  if (type == "Sequence") {
    const Json& list = json_require(value, "decoders", path);
    if (!list.is_array()) (path / "decoders").fail("expected an array");
    for (size_t i = 0; i < list.size(); ++i) add_steps(list[i], (path / "decoders")[i]);
    return;
  } else if (type == "Fuse") {
    fused_ = true;  // bytes are concatenated anyway
    return;
  } else if (type == "Replace") {
    // Applied per token even after Fuse: the patterns in use ("▁") never
    // span two tokens.
    step.kind = Kind::Replace;
    step.content = json_string(value, "content", path);
    const Json& pattern = json_require(value, "pattern", path);
    if (pattern.contains("String")) {
      step.pattern = json_string(pattern, "String", path / "pattern");
    } else if (pattern.contains("Regex")) {
      const JsonPath regex_path = path / "pattern" / "Regex";
      step.regex = std::make_shared<const Regex>(json_string(pattern, "Regex", path / "pattern"),
                                                 regex_path.source + ": " + regex_path.field);
    } else {
      (path / "pattern").fail("expected {\"String\": ...} or {\"Regex\": ...}");
    }
  } else if (type == "ByteFallback") {
    step.kind = Kind::ByteFallback;
  } else if (type == "ByteLevel") {
    step.kind = Kind::ByteLevel;
    fused_ = true;
  } else if (type == "Strip") {
    step.content = json_string(value, "content", path);
    step.start = json_require(value, "start", path).get<size_t>();
    step.stop = json_require(value, "stop", path).get<size_t>();
    if (fused_) {
      // On the whole text: only the leading strip is kept (a trailing one
      // could not be streamed, and no tokenizer in use has one).
      strip_content_ = step.content;
      strip_start_ = step.start;
      return;
    }
    step.kind = Kind::Strip;
  } else if (type == "Metaspace") {
    step.kind = Kind::Metaspace;
    step.pattern = json_string_or(value, "replacement", "\u2581", path);
    const bool add_prefix_space = json_bool_or(value, "add_prefix_space", true, path);
    const std::string scheme =
        json_string_or(value, "prepend_scheme", add_prefix_space ? "always" : "never", path);
    step.strip_first = scheme != "never";
  } else {
    (path / "type").fail("unsupported decoder '" + type + "'");
  }
  steps_.push_back(std::move(step));
}

std::string TokenDecoder::token_bytes(std::string_view token, bool first) const {
  std::string current(token);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::Replace:
        if (step.regex) {
          if (!is_valid_utf8(current)) break;  // only after a byte step; never in practice
          std::vector<std::pair<size_t, size_t>> matches;
          step.regex->find_all(current, matches);
          std::string out;
          size_t pos = 0;
          for (const auto& [begin, end] : matches) {
            out.append(current, pos, begin - pos).append(step.content);
            pos = end;
          }
          current = out.append(current, pos);
        } else {
          current = replace_all(current, step.pattern, step.content);
        }
        break;
      case Kind::ByteFallback:
        if (const int byte = fallback_byte(current); byte >= 0) current = std::string(1, static_cast<char>(byte));
        break;
      case Kind::ByteLevel:
        current = byte_level_decode(current);
        break;
      case Kind::Strip:
        current = strip_token(current, step.content, step.start, step.stop);
        break;
      case Kind::Metaspace:
        current = replace_all(current, step.pattern, first && step.strip_first ? "" : " ");
        break;
    }
  }
  return current;
}

void TokenDecoder::push(DecodeStream& stream, std::string_view token, std::string& out) const {
  stream.pending += token_bytes(token, stream.first_token);
  stream.first_token = false;
  // The whole-text leading strip: nothing is emitted until it is settled.
  while (stream.strip_left > 0 && !stream.pending.empty()) {
    if (stream.pending.compare(0, strip_content_.size(), strip_content_) == 0) {
      stream.pending.erase(0, strip_content_.size());
      --stream.strip_left;
    } else if (strip_content_.compare(0, stream.pending.size(), stream.pending) == 0) {
      return;  // a multi-byte strip character split across tokens: wait
    } else {
      stream.strip_left = 0;
    }
  }
  if (stream.strip_left > 0) return;
  const size_t consumed = append_complete_utf8(out, stream.pending, /*final=*/false);
  stream.pending.erase(0, consumed);
}

void TokenDecoder::finish(DecodeStream& stream, std::string& out) const {
  append_complete_utf8(out, stream.pending, /*final=*/true);
  stream.pending.clear();
}

}  // namespace slkv
