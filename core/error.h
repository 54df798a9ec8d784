#pragma once
// Error types and checks shared by every module.
//
// User-facing problems (bad model directory, corrupt file, bad flag) throw
// slkv::Error with a message naming the file/field/value; the CLI prints it and
// exits non-zero. Internal invariants use SLKV_CHECK, which carries file:line.
#include <sstream>
#include <stdexcept>
#include <string>

namespace slkv {

// A problem with the user's input: reported as "error: <message>", exit code 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A command line slkv cannot make sense of (a stray word, a missing required
// flag): reported like Error, but with exit code 2 and a pointer to --help.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

// A broken internal invariant (a bug in slkv, not in the input).
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

}  // namespace slkv

#define SLKV_CHECK(condition, message)                                                    \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      std::ostringstream slkv_check_stream_;                                              \
      slkv_check_stream_ << __FILE__ << ":" << __LINE__ << ": check failed: " #condition \
                         << ": " << message;                                              \
      throw ::slkv::InternalError(slkv_check_stream_.str());                              \
    }                                                                                     \
  } while (0)
