#pragma once
// Byte counts on the command line: "1073741824", "512MiB", "8GiB", "2G".
#include <cstdint>
#include <string>

namespace slkv {

// Parses a byte count with an optional B, K/KiB, M/MiB or G/GiB suffix
// (powers of 1024). Throws slkv::UsageError naming `flag` otherwise.
int64_t parse_byte_size(const std::string& text, const std::string& flag);

// The inverse for whole units: "256 MiB", "2 KiB", "3 GiB"; a count that is
// no whole number of KiB stays in bytes ("1000 B").
std::string format_byte_size(int64_t bytes);

}  // namespace slkv
