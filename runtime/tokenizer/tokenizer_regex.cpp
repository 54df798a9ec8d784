#include "runtime/tokenizer/tokenizer_regex.h"

#include <pcre2.h>

#include "core/error.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {

struct Regex::Code {
  pcre2_code* code = nullptr;
  std::string pattern;
  ~Code() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

// Unicode White_Space, the set Oniguruma (the Hugging Face engine) means by
// \s. PCRE2 with PCRE2_UCP also counts U+180E, so patterns spell it out.
constexpr std::string_view kWhiteSpaceSet =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

// Rewrites \s (anywhere) and \S (outside a character class) as that set.
std::string spell_out_whitespace(const std::string& pattern) {
  const std::string set(kWhiteSpaceSet);
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char escaped = pattern[++i];
      if (escaped == 's') {
        out += in_class ? set : "[" + set + "]";
      } else if (escaped == 'S' && !in_class) {
        out += "[^" + set + "]";
      } else {
        out += c;
        out += escaped;
      }
      continue;
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
    } else if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const size_t close = pattern.find(":]", i + 2);  // a POSIX class such as [:alpha:]
      if (close != std::string::npos) {
        out.append(pattern, i + 1, close + 1 - i);
        i = close + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) {
  auto code = std::make_shared<Code>();
  code->pattern = pattern;
  const std::string translated = spell_out_whitespace(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                             PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code->code == nullptr) {
    throw Error(where + ": invalid regex /" + pattern + "/: " + pcre2_message(error_code) +
                " (offset " + std::to_string(error_offset) + " after rewriting \\s)");
  }
  // JIT is only a speed-up: when it is unavailable pcre2_match interprets.
  pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE);
  code_ = std::move(code);
}

void Regex::find_all(std::string_view text,
                     std::vector<std::pair<size_t, size_t>>& matches) const {
  // Match data is per call so that concurrent callers never share it.
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(
      pcre2_match_data_create_from_pattern(code_->code, nullptr));
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset < text.size()) {
    // NO_UTF_CHECK: the caller guarantees valid UTF-8, and checking would
    // rescan the rest of the text on every call (quadratic time).
    uint32_t options = PCRE2_NO_UTF_CHECK;
    int rc = pcre2_match(code_->code, subject, text.size(), offset, options, data.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      options |= PCRE2_NO_JIT;  // a pathological input: the interpreter has no such limit
      rc = pcre2_match(code_->code, subject, text.size(), offset, options, data.get(), nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      throw Error("regex /" + code_->pattern + "/: matching failed: " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      offset = end;
    } else {
      // An empty match carries no text: step over one character and go on.
      if (begin >= text.size()) return;
      offset = begin + decode_utf8(text, begin).length;
    }
  }
}

}  // namespace slkv
