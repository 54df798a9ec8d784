#pragma once
// Comma-separated flag values ("1,8,32", "0.5,0.9", "3,2"): split and parse.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slkv {

// "a,b,,c" -> {"a", "b", "", "c"}; "" -> {}. Items keep their spaces; a
// trailing comma gives a last empty item (so "1,2," fails to parse below).
std::vector<std::string> split_comma_list(std::string_view text);

// Every item parsed whole as an integer (resp. a number). Throws slkv::Error
// "<what> must be a comma-separated list of integers, got '<text>'" naming the
// bad item; `what` is usually the flag, e.g. "--batch". An empty text gives {}.
std::vector<int64_t> parse_int_list(std::string_view text, const std::string& what);
std::vector<double> parse_number_list(std::string_view text, const std::string& what);

}  // namespace slkv
