#pragma once
// Reading a whole file (or stream) as text, bytes unchanged.
#include <filesystem>
#include <istream>
#include <string>

namespace slkv {

// The whole content of `path`. Throws slkv::Error "cannot read <path>: <why>"
// when it does not exist, is a directory or cannot be read.
std::string read_text_file(const std::filesystem::path& path);

// Everything left in `in` (e.g. std::cin). Throws slkv::Error naming `what`
// when reading fails.
std::string read_text_stream(std::istream& in, const std::string& what);

}  // namespace slkv
