#pragma once
// Runs an slkv subcommand under mpirun from a test and collects its output,
// exit code, wall time and the JSON objects it printed.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace slkv::testing {

struct JobRun {
  int exit_code = 0;
  std::string output;                     // stdout + stderr
  std::vector<nlohmann::json> results;    // stdout lines starting with '{', parsed
  double seconds = 0;
};

inline std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("slkv_dist_" + std::to_string(getpid()) + "_" + name);
}

// Runs `slkv SUBCOMMAND ARGS` on np ranks (np 0: a plain process, no
// mpirun), killed after 120 s so a hang fails the test instead of CI.
inline JobRun run(int np, const std::string& args, const std::string& env = "",
                  const std::string& subcommand = "generate") {
  std::string command = env + " timeout 120 ";
  if (np > 0) command += "mpirun --allow-run-as-root --oversubscribe --bind-to none -np " + std::to_string(np) + " ";
  command += std::string(SLKV_BINARY) + " " + subcommand + " " + args + " 2>&1";
  JobRun result;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed", {}, 0};
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::istringstream lines(result.output);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] == '{') result.results.push_back(nlohmann::json::parse(line));
  return result;
}

// Two stories prompts, one JSON string per line, for the distributed tests.
inline std::filesystem::path stories_prompts_file() {
  const std::filesystem::path path = temp_path("prompts.jsonl");
  std::ofstream(path) << "\"Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                         "park with her friends. One day\"\n"
                         "\"Tom had a big red ball. He liked to throw it high in the sky and catch it. His dog\"\n";
  return path;
}

}  // namespace slkv::testing
