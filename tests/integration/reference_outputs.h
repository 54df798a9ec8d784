#pragma once
// llama2.c's reference outputs for stories260K (../shared/models/stories260K/
// reference/reference_greedy_outputs.txt), shared by the end-to-end tests of
// every backend.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace slkv::testing {

struct ReferenceCase {
  std::string prompt;
  int64_t steps = 0;  // run.c's -n: prompt positions included
  std::string text;   // prompt followed by the continuation
};

// Greedy cases of reference_greedy_outputs.txt ("## ./run ... -t 0 ... -n N -i "P"").
inline std::vector<ReferenceCase> read_reference_cases(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<ReferenceCase> cases;
  std::string line;
  ReferenceCase* current = nullptr;
  std::vector<std::string> lines;
  auto flush = [&] {
    if (!current) return;
    std::string text;
    for (size_t i = 0; i < lines.size(); ++i) text += (i ? "\n" : "") + lines[i];
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    current->text = text;
    current = nullptr;
    lines.clear();
  };
  const std::regex header(R"(^## \./run \S+ -z \S+ -t (\S+)(.*)$)");
  const std::regex steps(R"(-n (\d+))");
  const std::regex prompt(R"re(-i "([^"]*)")re");
  while (std::getline(in, line)) {
    std::smatch match;
    if (line.rfind("##", 0) == 0) {
      flush();
      if (!std::regex_search(line, match, header) || std::stod(match[1]) != 0.0) continue;
      std::string rest = match[2];
      ReferenceCase c;
      c.steps = std::regex_search(rest, match, steps) ? std::stoll(match[1]) : 256;
      if (std::regex_search(rest, match, prompt)) c.prompt = match[1];
      cases.push_back(c);
      current = &cases.back();
    } else if (current && line.rfind("#", 0) != 0) {
      lines.push_back(line);
    }
  }
  flush();
  return cases;
}

}  // namespace slkv::testing
