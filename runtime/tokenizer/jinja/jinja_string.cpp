#include "runtime/tokenizer/jinja/jinja_string.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <utf8proc.h>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv::jinja {
namespace {

utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool is_cased(char32_t c) {
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

char32_t to_upper(char32_t c) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))); }
char32_t to_lower(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }
char32_t to_title(char32_t c) { return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c))); }

bool is_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

// Python's slice-index clamping for find/count bounds.
int64_t clamp_index(std::optional<int64_t> index, int64_t length, int64_t fallback) {
  if (!index) return fallback;
  int64_t i = *index;
  if (i < 0) i = std::max<int64_t>(0, i + length);
  return std::min(i, length);
}

template <class Predicate>
bool all_of_nonempty(std::string_view text, Predicate predicate) {
  const std::u32string cps = to_code_points(text);
  return !cps.empty() && std::all_of(cps.begin(), cps.end(), predicate);
}

}  // namespace

std::string from_code_points(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (const char32_t c : code_points) append_utf8(out, c);
  return out;
}

int64_t code_point_count(std::string_view text) {
  int64_t count = 0;
  for (size_t pos = 0; pos < text.size();) {
    pos += static_cast<uint8_t>(text[pos]) < 0x80 ? 1 : decode_utf8(text, pos).length;
    ++count;
  }
  return count;
}

bool is_python_space(char32_t c) {
  return is_unicode_whitespace(c) || (c >= 0x1C && c <= 0x1F);
}

bool is_python_printable(char32_t c) {
  if (c == ' ') return true;
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::string py_strip(std::string_view text, const std::optional<std::string>& chars, bool left,
                     bool right) {
  const std::u32string cps = to_code_points(text);
  const std::u32string set = chars ? to_code_points(*chars) : std::u32string();
  const auto strip_this = [&](char32_t c) {
    return chars ? set.find(c) != std::u32string::npos : is_python_space(c);
  };
  size_t begin = 0, end = cps.size();
  if (left) while (begin < end && strip_this(cps[begin])) ++begin;
  if (right) while (end > begin && strip_this(cps[end - 1])) --end;
  return from_code_points(std::u32string_view(cps).substr(begin, end - begin));
}

std::vector<std::string> py_split(std::string_view text, const std::optional<std::string>& separator,
                                  int64_t max_split, bool from_right) {
  std::vector<std::string> parts;
  if (separator) {
    if (separator->empty()) throw RenderFailure("empty separator");
    if (!from_right) {
      size_t pos = 0;
      for (size_t hit; (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) &&
                       (hit = text.find(*separator, pos)) != std::string_view::npos;) {
        parts.emplace_back(text.substr(pos, hit - pos));
        pos = hit + separator->size();
      }
      parts.emplace_back(text.substr(pos));
      return parts;
    }
    size_t end = text.size();
    for (size_t hit; (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) && end >= separator->size() &&
                     (hit = text.rfind(*separator, end - separator->size())) != std::string_view::npos;) {
      parts.emplace_back(text.substr(hit + separator->size(), end - hit - separator->size()));
      end = hit;
    }
    parts.emplace_back(text.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  // Runs of whitespace separate; none at either end gives an empty part. The
  // rest after max_split splits keeps its inner and far-end whitespace.
  const std::u32string cps = to_code_points(text);
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < cps.size() && is_python_space(cps[i])) ++i;
      if (i == cps.size()) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        parts.push_back(from_code_points(std::u32string_view(cps).substr(i)));
        break;
      }
      const size_t start = i;
      while (i < cps.size() && !is_python_space(cps[i])) ++i;
      parts.push_back(from_code_points(std::u32string_view(cps).substr(start, i - start)));
    }
    return parts;
  }
  size_t i = cps.size();
  while (true) {
    while (i > 0 && is_python_space(cps[i - 1])) --i;
    if (i == 0) break;
    if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
      parts.push_back(from_code_points(std::u32string_view(cps).substr(0, i)));
      break;
    }
    const size_t end = i;
    while (i > 0 && !is_python_space(cps[i - 1])) --i;
    parts.push_back(from_code_points(std::u32string_view(cps).substr(i, end - i)));
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> py_splitlines(std::string_view text, bool keep_ends) {
  const std::u32string cps = to_code_points(text);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < cps.size();) {
    if (!is_line_break(cps[i])) {
      ++i;
      continue;
    }
    size_t break_end = i + 1;
    if (cps[i] == '\r' && break_end < cps.size() && cps[break_end] == '\n') ++break_end;
    lines.push_back(from_code_points(std::u32string_view(cps).substr(start, (keep_ends ? break_end : i) - start)));
    start = i = break_end;
  }
  if (start < cps.size()) lines.push_back(from_code_points(std::u32string_view(cps).substr(start)));
  return lines;
}

std::string py_replace(std::string_view text, std::string_view old, std::string_view replacement,
                       int64_t count) {
  std::string out;
  if (old.empty()) {
    const std::u32string cps = to_code_points(text);
    int64_t done = 0;
    for (const char32_t c : cps) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      append_utf8(out, c);
    }
    if (count < 0 || done < count) out += replacement;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  for (size_t hit; (count < 0 || done < count) && (hit = text.find(old, pos)) != std::string_view::npos; ++done) {
    out.append(text.substr(pos, hit - pos)).append(replacement);
    pos = hit + old.size();
  }
  out.append(text.substr(pos));
  return out;
}

int64_t py_find(std::string_view text, std::string_view sub, std::optional<int64_t> start,
                std::optional<int64_t> end, bool from_right) {
  const std::u32string cps = to_code_points(text);
  const std::u32string needle = to_code_points(sub);
  const int64_t length = static_cast<int64_t>(cps.size());
  const int64_t lo = clamp_index(start, length, 0);
  const int64_t hi = clamp_index(end, length, length);
  if (hi - lo < static_cast<int64_t>(needle.size())) return -1;
  const std::u32string_view window = std::u32string_view(cps).substr(lo, hi - lo);
  const size_t hit = from_right ? window.rfind(needle) : window.find(needle);
  return hit == std::u32string_view::npos ? -1 : lo + static_cast<int64_t>(hit);
}

int64_t py_count(std::string_view text, std::string_view sub) {
  if (sub.empty()) return code_point_count(text) + 1;
  int64_t count = 0;
  for (size_t pos = 0; (pos = text.find(sub, pos)) != std::string_view::npos; pos += sub.size()) ++count;
  return count;
}

std::string py_upper(std::string_view text) {
  std::u32string cps = to_code_points(text);
  for (char32_t& c : cps) c = to_upper(c);
  return from_code_points(cps);
}

std::string py_lower(std::string_view text) {
  std::u32string cps = to_code_points(text);
  for (char32_t& c : cps) c = to_lower(c);
  return from_code_points(cps);
}

std::string py_title(std::string_view text) {
  std::u32string cps = to_code_points(text);
  bool previous_cased = false;
  for (char32_t& c : cps) {
    const bool cased = is_cased(c);
    c = previous_cased ? to_lower(c) : to_title(c);
    previous_cased = cased;
  }
  return from_code_points(cps);
}

std::string py_capitalize(std::string_view text) {
  std::u32string cps = to_code_points(text);
  for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? to_title(cps[i]) : to_lower(cps[i]);
  return from_code_points(cps);
}

bool py_isdigit(std::string_view text) {
  return all_of_nonempty(text, [](char32_t c) { return category(c) == UTF8PROC_CATEGORY_ND; });
}

bool py_isalpha(std::string_view text) {
  return all_of_nonempty(text, [](char32_t c) {
    const auto cat = category(c);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
  });
}

bool py_isalnum(std::string_view text) {
  return all_of_nonempty(text, [](char32_t c) {
    const auto cat = category(c);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
  });
}

bool py_isspace(std::string_view text) { return all_of_nonempty(text, is_python_space); }

bool py_isupper(std::string_view text) {
  bool any_cased = false;
  for (const char32_t c : to_code_points(text)) {
    if (!is_cased(c)) continue;
    if (category(c) != UTF8PROC_CATEGORY_LU) return false;
    any_cased = true;
  }
  return any_cased;
}

bool py_islower(std::string_view text) {
  bool any_cased = false;
  for (const char32_t c : to_code_points(text)) {
    if (!is_cased(c)) continue;
    if (category(c) != UTF8PROC_CATEGORY_LL) return false;
    any_cased = true;
  }
  return any_cased;
}

namespace {

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char lower = static_cast<char>(c | 0x20);
  if (lower >= 'a' && lower <= 'z') return lower - 'a' + 10;
  return 99;
}

// Digits of `base` with single '_' between them (and, after a base prefix,
// before the first); empty when the text breaks that rule.
std::string digits_without_underscores(std::string_view text, int base, bool leading_underscore) {
  std::string digits;
  bool previous_digit = leading_underscore;
  for (const char c : text) {
    if (c == '_') {
      if (!previous_digit) return "";
      previous_digit = false;
      continue;
    }
    if (digit_value(c) >= base) return "";
    digits += c;
    previous_digit = true;
  }
  return previous_digit ? digits : "";
}

}  // namespace

std::optional<int64_t> py_parse_int(std::string_view text, int base) {
  std::string trimmed = py_strip(text, std::nullopt, true, true);
  std::string_view rest = trimmed;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  bool prefixed = false;
  if (rest.size() >= 2 && rest[0] == '0') {
    const char p = static_cast<char>(rest[1] | 0x20);
    const int prefix_base = p == 'x' ? 16 : (p == 'o' ? 8 : (p == 'b' ? 2 : 0));
    if (prefix_base && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      prefixed = true;
      rest.remove_prefix(2);
    }
  }
  if (base == 0) {
    base = 10;
    // Base 0 refuses leading zeros in a non-zero decimal ("010").
    const std::string digits = digits_without_underscores(rest, 10, false);
    if (digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos)
      return std::nullopt;
  }
  if (base < 2 || base > 36) throw RenderFailure("int() base must be >= 2 and <= 36, or 0");
  const std::string digits = digits_without_underscores(rest, base, prefixed);
  if (digits.empty()) return std::nullopt;
  errno = 0;
  const unsigned long long magnitude = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE || magnitude > static_cast<unsigned long long>(INT64_MAX) + (negative ? 1 : 0))
    throw RenderFailure("integer overflow (integers are 64-bit here, unlike Python's)");
  return negative ? static_cast<int64_t>(0ULL - magnitude) : static_cast<int64_t>(magnitude);
}

std::optional<double> py_parse_float(std::string_view text) {
  const std::string trimmed = py_strip(text, std::nullopt, true, true);
  std::string_view rest = trimmed;
  std::string sign;
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    sign = rest[0];
    rest.remove_prefix(1);
  }
  std::string lower(rest);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "inf" || lower == "infinity") return sign == "-" ? -HUGE_VAL : HUGE_VAL;
  if (lower == "nan") return std::nan("");
  // [digits][.digits][e[sign]digits] with at least one mantissa digit.
  size_t i = 0;
  const auto run = [&](bool& any) {
    const size_t start = i;
    while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '_')) ++i;
    const std::string_view part = rest.substr(start, i - start);
    any = !part.empty();
    return part.empty() ? std::string() : digits_without_underscores(part, 10, false);
  };
  bool any_whole = false, any_fraction = false, any_exponent = false;
  std::string number = sign + run(any_whole);
  if (any_whole && number.size() == sign.size()) return std::nullopt;  // bad underscores
  if (i < rest.size() && rest[i] == '.') {
    ++i;
    const std::string fraction = run(any_fraction);
    if (any_fraction && fraction.empty()) return std::nullopt;
    number += "." + fraction;
  }
  if (!any_whole && !any_fraction) return std::nullopt;
  if (i < rest.size() && (rest[i] == 'e' || rest[i] == 'E')) {
    ++i;
    std::string exponent_sign;
    if (i < rest.size() && (rest[i] == '+' || rest[i] == '-')) exponent_sign = rest[i++];
    const std::string exponent = run(any_exponent);
    if (exponent.empty()) return std::nullopt;
    number += "e" + exponent_sign + exponent;
  }
  if (i != rest.size()) return std::nullopt;
  return std::strtod(number.c_str(), nullptr);
}

}  // namespace slkv::jinja
