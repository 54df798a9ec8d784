#pragma once
// Python str semantics on UTF-8 strings.
//
// Templates index, slice, measure and strip strings by code point, and
// Python's idea of whitespace, line breaks and case is not C's: these helpers
// give the answers Python gives, so a template renders the same text here as
// under Hugging Face transformers. Case mapping is Unicode's simple mapping
// (utf8proc): Python's few special cases (e.g. 'ß'.upper() == 'SS') are not
// applied.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/unicode_utf8.h"  // to_code_points

namespace slkv::jinja {

std::string from_code_points(std::u32string_view code_points);
// len(text) in Python: the number of code points.
int64_t code_point_count(std::string_view text);

// str.isspace() for one character: Unicode White_Space plus U+001C..U+001F.
bool is_python_space(char32_t c);
// Characters repr() prints as themselves (not \x, \u or \U escapes).
bool is_python_printable(char32_t c);

// str.strip / lstrip / rstrip: `chars` is the set of characters to remove,
// whitespace when absent.
std::string py_strip(std::string_view text, const std::optional<std::string>& chars, bool left,
                     bool right);
// str.split / str.rsplit: on runs of whitespace when `separator` is absent.
// Throws RenderFailure for an empty separator.
std::vector<std::string> py_split(std::string_view text, const std::optional<std::string>& separator,
                                  int64_t max_split, bool from_right);
// str.splitlines: \n, \r, \r\n, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029.
std::vector<std::string> py_splitlines(std::string_view text, bool keep_ends);
// str.replace; count < 0 replaces every occurrence. An empty `old` inserts
// `replacement` around every character, as Python does.
std::string py_replace(std::string_view text, std::string_view old, std::string_view replacement,
                       int64_t count);
// str.find / str.rfind over text[start:end] (code point indices, Python's
// clamping of negative and out-of-range bounds); -1 when absent.
int64_t py_find(std::string_view text, std::string_view sub, std::optional<int64_t> start,
                std::optional<int64_t> end, bool from_right);
// str.count: non-overlapping occurrences.
int64_t py_count(std::string_view text, std::string_view sub);

std::string py_upper(std::string_view text);
std::string py_lower(std::string_view text);
// str.title(): a cased character after an uncased one is title-cased, the
// rest lower-cased.
std::string py_title(std::string_view text);
// str.capitalize(): first character title-cased, the rest lower-cased.
std::string py_capitalize(std::string_view text);

// str.isdigit / isalpha / isalnum / isspace / isupper / islower.
bool py_isdigit(std::string_view text);
bool py_isalpha(std::string_view text);
bool py_isalnum(std::string_view text);
bool py_isspace(std::string_view text);
bool py_isupper(std::string_view text);
bool py_islower(std::string_view text);

// int(text, base) and float(text) as Python parses strings (surrounding
// whitespace, a sign, '_' between digits, 0x/0o/0b prefixes, inf and nan);
// nullopt where Python raises ValueError. An int beyond 64 bits throws
// RenderFailure.
std::optional<int64_t> py_parse_int(std::string_view text, int base);
std::optional<double> py_parse_float(std::string_view text);

}  // namespace slkv::jinja
