#include "runtime/tokenizer/tokenizer_normalizer.h"

#include <cstdlib>
#include <utility>

#include <utf8proc.h>

#include "core/error.h"
#include "runtime/tokenizer/tokenizer_regex.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {
namespace {

bool is_ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

std::string unicode_normalize(std::string_view text, int options) {
  if (is_ascii(text)) return std::string(text);  // ASCII is invariant under every form
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result,
                   static_cast<utf8proc_option_t>(options));
  if (length < 0) {
    throw InternalError(std::string("utf8proc normalization failed: ") + utf8proc_errmsg(length));
  }
  std::string out(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
  std::free(result);
  return out;
}

std::string replace_literal(std::string_view text, std::string_view pattern,
                            std::string_view content) {
  if (pattern.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit; (hit = text.find(pattern, pos)) != std::string_view::npos;) {
    out.append(text.substr(pos, hit - pos)).append(content);
    pos = hit + pattern.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string replace_regex(std::string_view text, const Regex& regex, std::string_view content) {
  std::vector<std::pair<size_t, size_t>> matches;
  regex.find_all(text, matches);
  std::string out;
  size_t pos = 0;
  for (const auto& [begin, end] : matches) {
    out.append(text.substr(pos, begin - pos)).append(content);
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    append_utf8(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c.code_point))));
    pos += c.length;
  }
  return out;
}

std::string strip_whitespace(std::string_view text, bool left, bool right) {
  size_t begin = 0, end = text.size();
  while (left && begin < end) {
    const Utf8Char c = decode_utf8(text, begin);
    if (!is_unicode_whitespace(c.code_point)) break;
    begin += c.length;
  }
  while (right && begin < end) {
    size_t last = end - 1;
    while (last > begin && (static_cast<uint8_t>(text[last]) & 0xC0) == 0x80) --last;
    if (!is_unicode_whitespace(decode_utf8(text, last).code_point)) break;
    end = last;
  }
  return std::string(text.substr(begin, end - begin));
}

}  // namespace

Normalizer Normalizer::from_json(const Json& value, const JsonPath& path) {
  Normalizer normalizer;
  if (!value.is_null()) normalizer.add_steps(value, path);
  return normalizer;
}

void Normalizer::add_steps(const Json& value, const JsonPath& path) {
  const std::string type = json_type(value, path);
  Step step;
  if (type == "Sequence") {
    const Json& list = json_require(value, "normalizers", path);
    if (!list.is_array()) (path / "normalizers").fail("expected an array");
    for (size_t i = 0; i < list.size(); ++i) add_steps(list[i], (path / "normalizers")[i]);
    return;
  } else if (type == "Prepend") {
    step.kind = Kind::Prepend;
    step.text = json_string(value, "prepend", path);
  } else if (type == "Replace") {
    step.kind = Kind::Replace;
    step.content = json_string(value, "content", path);
    const Json& pattern = json_require(value, "pattern", path);
    if (pattern.contains("String")) {
      step.text = json_string(pattern, "String", path / "pattern");
    } else if (pattern.contains("Regex")) {
      const JsonPath regex_path = path / "pattern" / "Regex";
      step.regex = std::make_shared<const Regex>(json_string(pattern, "Regex", path / "pattern"),
                                                 regex_path.source + ": " + regex_path.field);
    } else {
      (path / "pattern").fail("expected {\"String\": ...} or {\"Regex\": ...}");
    }
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    step.kind = Kind::Unicode;
    step.utf8proc_options = UTF8PROC_STABLE;
    step.utf8proc_options |= type.find('C') != std::string::npos ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
    if (type[2] == 'K') step.utf8proc_options |= UTF8PROC_COMPAT;
  } else if (type == "Lowercase") {
    step.kind = Kind::Lowercase;
  } else if (type == "Strip") {
    step.kind = Kind::Strip;
    step.strip_left = json_bool_or(value, "strip_left", true, path);
    step.strip_right = json_bool_or(value, "strip_right", true, path);
  } else {
    (path / "type").fail("unsupported normalizer '" + type + "'");
  }
  steps_.push_back(std::move(step));
}

std::string Normalizer::apply(std::string_view text) const {
  std::string current(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::Prepend:
        // Hugging Face prepends only to non-empty text.
        if (!current.empty()) current.insert(0, step.text);
        break;
      case Kind::Replace:
        current = step.regex ? replace_regex(current, *step.regex, step.content)
                             : replace_literal(current, step.text, step.content);
        break;
      case Kind::Unicode:
        current = unicode_normalize(current, step.utf8proc_options);
        break;
      case Kind::Lowercase:
        current = lowercase(current);
        break;
      case Kind::Strip:
        current = strip_whitespace(current, step.strip_left, step.strip_right);
        break;
    }
  }
  return current;
}

}  // namespace slkv
