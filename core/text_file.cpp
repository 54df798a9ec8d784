#include "core/text_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace slkv {

std::string read_text_file(const std::filesystem::path& path) {
  // A directory opens as a stream on Linux and only fails on reading: say so up front.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) throw Error("cannot read " + path.string() + ": it is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string() + (errno ? std::string(": ") + std::strerror(errno) : ""));
  return read_text_stream(in, path.string());
}

std::string read_text_stream(std::istream& in, const std::string& what) {
  // istream::read turns a failing read(2) into badbit (an istreambuf_iterator would throw).
  std::string text;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) text.append(buffer, static_cast<size_t>(in.gcount()));
  if (in.bad()) throw Error("cannot read " + what);
  return text;
}

}  // namespace slkv
