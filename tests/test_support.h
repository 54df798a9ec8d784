#pragma once
// Helpers shared by the test suites: where ../shared is, running the slkv binary.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>
#include <string>

#include "kernels/cpu/cpu_backend.h"

namespace slkv::testing {

// A one-thread CPU backend for tests that need host memory and its ops.
inline Backend& host_backend() {
  static CpuBackend backend(1);
  return backend;
}

// The shared test data: $SLKV_SHARED, else ../shared from the working
// directory, else ../shared beside the repository.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("SLKV_SHARED")) return env;
  for (std::filesystem::path candidate : {std::filesystem::path("../shared"),
                                          std::filesystem::path(SLKV_SOURCE_DIR) / ".." / "shared"})
    if (std::filesystem::exists(candidate / "models")) return candidate;
  return std::filesystem::path(SLKV_SOURCE_DIR) / ".." / "shared";
}

// A fresh directory for the running test, removed when the test ends.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::filesystem::path stories_dir() { return shared_dir() / "models" / "stories260K"; }

struct CommandResult {
  int exit_code = 0;
  std::string output;  // stdout, plus stderr when requested
};

// Runs `slkv <arguments>` through the shell with `stdin_text` on its standard
// input; stderr is merged into output when merge_stderr, else discarded.
inline CommandResult run_slkv(const std::string& arguments, bool merge_stderr = false,
                              const std::string& stdin_text = "") {
  static int counter = 0;
  auto input = std::filesystem::temp_directory_path() /
               ("slkv_test_stdin_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::ofstream(input, std::ios::binary) << stdin_text;
  std::string command = std::string(SLKV_BINARY) + " " + arguments + " < '" + input.string() + "'" +
                        (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  std::filesystem::remove(input);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace slkv::testing

// Skips the current test (reported as SKIPPED by ctest) when shared data is absent.
#define SLKV_REQUIRE_SHARED()                                                                  \
  do {                                                                                         \
    if (!std::filesystem::exists(::slkv::testing::stories_dir() / "config.json"))              \
      GTEST_SKIP() << "shared test data not found at " << ::slkv::testing::shared_dir()        \
                   << " (set SLKV_SHARED)";                                                    \
  } while (0)
