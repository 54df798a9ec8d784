#include "core/comma_list.h"

#include <charconv>
#include <system_error>

#include "core/error.h"

namespace slkv {
namespace {

// Parses all of `item` as a T (no sign '+', no spaces, as from_chars does).
template <typename T>
bool parse_whole(const std::string& item, T& value) {
  const char* end = item.data() + item.size();
  auto [stop, error] = std::from_chars(item.data(), end, value);
  return error == std::errc() && stop == end && !item.empty();
}

template <typename T>
std::vector<T> parse_list(std::string_view text, const std::string& what, const std::string& kind) {
  std::vector<T> values;
  for (const std::string& item : split_comma_list(text)) {
    T value{};
    if (!parse_whole(item, value))
      throw Error(what + " must be a comma-separated list of " + kind + ", got '" + std::string(text) + "' ('" +
                  item + "' is not one)");
    values.push_back(value);
  }
  return values;
}

}  // namespace

std::vector<std::string> split_comma_list(std::string_view text) {
  std::vector<std::string> items;
  if (text.empty()) return items;
  for (size_t begin = 0;;) {
    const size_t comma = text.find(',', begin);
    items.emplace_back(text.substr(begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin));
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return items;
}

std::vector<int64_t> parse_int_list(std::string_view text, const std::string& what) {
  return parse_list<int64_t>(text, what, "integers");
}

std::vector<double> parse_number_list(std::string_view text, const std::string& what) {
  return parse_list<double>(text, what, "numbers");
}

}  // namespace slkv
