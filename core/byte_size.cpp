#include "core/byte_size.h"

#include <cctype>
#include <limits>

#include "core/error.h"

namespace slkv {

int64_t parse_byte_size(const std::string& text, const std::string& flag) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string suffix = text.substr(digits);
  int shift = -1;
  if (suffix.empty() || suffix == "B") shift = 0;
  if (suffix == "K" || suffix == "KiB" || suffix == "k") shift = 10;
  if (suffix == "M" || suffix == "MiB") shift = 20;
  if (suffix == "G" || suffix == "GiB") shift = 30;
  if (digits == 0 || digits > 12 || shift < 0)
    throw UsageError(flag + " takes a byte count such as 1073741824, 512MiB or 8GiB, got '" + text + "'");
  const int64_t value = std::stoll(text.substr(0, digits));
  if (value > (std::numeric_limits<int64_t>::max() >> shift)) throw UsageError(flag + " " + text + " is too large");
  return value << shift;
}

std::string format_byte_size(int64_t bytes) {
  const char* const units[] = {"B", "KiB", "MiB", "GiB"};
  int unit = 0;
  while (unit < 3 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + " " + units[unit];
}

}  // namespace slkv
