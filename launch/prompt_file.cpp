#include "launch/prompt_file.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "launch/cli_common.h"

namespace slkv {
namespace {

std::string fill_template(std::string text, const std::string& field, const std::string& value) {
  const std::string marker = "{" + field + "}";
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + value.size()))
    text.replace(at, marker.size(), value);
  return text;
}

std::string load_template(const std::filesystem::path& prompts_file, const std::string& dataset) {
  const std::filesystem::path path = prompts_file.parent_path() / "dataset2prompt.json";
  std::ifstream in(path);
  if (!in) throw Error("--dataset " + dataset + " needs " + path.string() + " beside the prompts file");
  nlohmann::json templates = nlohmann::json::parse(in, nullptr, false);
  if (!templates.is_object() || !templates.contains(dataset) || !templates[dataset].is_string())
    throw Error(path.string() + " has no template for dataset '" + dataset + "'");
  return templates[dataset].get<std::string>();
}

}  // namespace

std::vector<std::string> read_evaluation_prompts(const std::filesystem::path& path, const std::string& dataset) {
  const InputText input = read_input_text(path);
  const std::string prompt_template = dataset.empty() ? "" : load_template(path, dataset);
  std::istringstream in(input.text);
  std::vector<std::string> prompts;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = input.name + ":" + std::to_string(line_number);
    check_utf8(line, where);  // plain-text lines go to the tokenizer as they are
    nlohmann::json value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (value.is_string()) {
      prompts.push_back(value.get<std::string>());
    } else if (value.is_object()) {
      if (!value.contains("input") || !value["input"].is_string())
        throw Error(where + ": a JSON object needs a string field \"input\"");
      const std::string input = value["input"].get<std::string>();
      const std::string context = value.contains("context") && value["context"].is_string() ? value["context"].get<std::string>() : "";
      if (!prompt_template.empty())
        prompts.push_back(fill_template(fill_template(prompt_template, "context", context), "input", input));
      else
        prompts.push_back(context.empty() ? input : context + "\n\n" + input);
    } else if (value.is_discarded() && line.front() != '{' && line.front() != '[' && line.front() != '"') {
      prompts.push_back(line);  // plain text
    } else {
      throw Error(where + ": expected a JSON string, a JSON object with \"input\", or plain text");
    }
  }
  if (prompts.empty()) throw Error("prompts file " + input.name + " holds no prompts");
  return prompts;
}

}  // namespace slkv
