#include "launch/cli_common.h"

#include <sys/resource.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"

namespace slkv {

std::optional<cxxopts::ParseResult> parse_command_line(cxxopts::Options& options, int argc, char** argv) {
  options.add_options()("h,help", "show this help");
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return std::nullopt;
  }
  return args;
}

std::string required_flag(const cxxopts::ParseResult& args, const std::string& name, const std::string& what) {
  if (!args.count(name)) throw Error("--" + name + " " + what + " is required");
  return args[name].as<std::string>();
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

int default_thread_count() {
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

std::vector<std::string> read_prompts_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open prompts file " + path.string());
  std::vector<std::string> prompts;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(path.string() + ":" + std::to_string(line_number) + ": not valid JSON: " + e.what());
    }
    if (!value.is_string())
      throw Error(path.string() + ":" + std::to_string(line_number) + ": expected a JSON string, got " +
                  std::string(value.type_name()));
    prompts.push_back(value.get<std::string>());
  }
  if (prompts.empty()) throw Error("prompts file " + path.string() + " holds no prompts");
  return prompts;
}

SamplingParams generation_defaults(const std::filesystem::path& model_dir) {
  SamplingParams params;
  std::ifstream in(model_dir / "generation_config.json");
  if (!in) return params;
  nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw Error((model_dir / "generation_config.json").string() + " is not a JSON object");
  if (!config.value("do_sample", false)) return params;
  params.temperature = config.value("temperature", 1.0f);
  params.top_k = config.value("top_k", int64_t{50});
  params.top_p = config.value("top_p", 1.0f);
  return params;
}

}  // namespace slkv
