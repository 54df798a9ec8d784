#include "launch/cli_common.h"

#include <sys/resource.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/json_nesting.h"
#include "core/text_file.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {

std::optional<cxxopts::ParseResult> parse_command_line(cxxopts::Options& options, int argc, char** argv) {
  options.add_options()("h,help", "show this help");
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return std::nullopt;
  }
  // cxxopts keeps words that follow a flag's value as unmatched arguments; no
  // command takes positional arguments, so such a word was meant as part of a value.
  if (!args.unmatched().empty())
    throw UsageError("unexpected argument '" + args.unmatched().front() + "' (quote a value that contains spaces)");
  // Prompt text goes to the tokenizer, which takes UTF-8 (as a prompts file's JSON strings must be).
  if (args.count("prompt")) check_utf8(args["prompt"].as<std::string>(), "--prompt");
  return args;
}

std::string required_flag(const cxxopts::ParseResult& args, const std::string& name, const std::string& what) {
  if (!args.count(name)) throw UsageError("--" + name + " " + what + " is required");
  return args[name].as<std::string>();
}

void check_utf8(std::string_view text, const std::string& what) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    if (c.status != Utf8Char::Status::Complete) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[pos]));
      throw Error(what + ": not valid UTF-8 (byte " + byte + " at offset " + std::to_string(pos) + ")");
    }
    pos += c.length;
  }
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

InputText read_input_text(const std::filesystem::path& path) {
  if (path == "-") return {"<stdin>", read_text_stream(std::cin, "standard input")};
  return {path.string(), read_text_file(path)};
}

namespace {

template <class Json>
std::vector<BasicJsonLine<Json>> read_json_lines_as(const std::filesystem::path& path) {
  const InputText input = read_input_text(path);
  std::istringstream in(input.text);
  std::vector<BasicJsonLine<Json>> lines;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    BasicJsonLine<Json> parsed{input.name + ":" + std::to_string(line_number), nullptr};
    // Checked before parsing: the JSON parser would refuse it too, but less plainly.
    check_utf8(line, parsed.where);
    if (json_text_nesting_depth(line) > kMaxJsonNesting)
      throw Error(json_too_deep_message(parsed.where + ": the JSON"));
    try {
      parsed.value = Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(parsed.where + ": not valid JSON: " + e.what());
    }
    lines.push_back(std::move(parsed));
  }
  return lines;
}

}  // namespace

std::vector<JsonLine> read_json_lines(const std::filesystem::path& path) {
  return read_json_lines_as<nlohmann::json>(path);
}

std::vector<OrderedJsonLine> read_ordered_json_lines(const std::filesystem::path& path) {
  return read_json_lines_as<nlohmann::ordered_json>(path);
}

std::vector<std::string> read_prompts_file(const std::filesystem::path& path) {
  std::vector<std::string> prompts;
  for (const JsonLine& line : read_json_lines(path)) {
    if (!line.value.is_string())
      throw Error(line.where + ": expected a JSON string, got " + std::string(line.value.type_name()));
    prompts.push_back(line.value.get<std::string>());
  }
  if (prompts.empty()) throw Error("prompts file " + (path == "-" ? std::string("<stdin>") : path.string()) + " holds no prompts");
  return prompts;
}

std::vector<int32_t> read_prompt_ids(const std::filesystem::path& path) {
  const InputText input = read_input_text(path);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(input.text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(input.name + ": not valid JSON: " + e.what());
  }
  if (!value.is_array()) throw Error(input.name + ": expected a JSON array of token ids, got " + std::string(value.type_name()));
  std::vector<int32_t> ids;
  for (size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& id = value[i];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      throw Error(input.name + ": element " + std::to_string(i) + " is not a token id: " + id.dump());
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  if (ids.empty()) throw Error(input.name + ": the prompt holds no token ids");
  return ids;
}

std::filesystem::path shared_data_dir() {
  if (const char* shared = std::getenv("SLKV_SHARED")) return shared;
  return std::filesystem::path(SLKV_SOURCE_DIR).parent_path() / "shared";
}

SamplingParams generation_defaults(const std::filesystem::path& model_dir) {
  SamplingParams params;
  const std::filesystem::path path = model_dir / "generation_config.json";
  if (!std::filesystem::exists(path)) return params;
  const std::string source = path.string();
  nlohmann::json config = nlohmann::json::parse(read_text_file(path), nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw Error(source + " is not a JSON object");
  auto bad = [&](const std::string& field, const std::string& what) {
    throw Error(source + ": field \"" + field + "\" " + what);
  };
  // A field counts as absent when missing or null, as transformers reads it.
  auto field = [&](const std::string& name) -> const nlohmann::json* {
    auto it = config.find(name);
    return it == config.end() || it->is_null() ? nullptr : &*it;
  };
  // Types are checked even when do_sample leaves a field unused: a wrong type is a broken file.
  bool do_sample = false;
  double temperature = 1.0, top_p = 1.0;
  int64_t top_k = 50;
  if (const nlohmann::json* value = field("do_sample")) {
    if (!value->is_boolean()) bad("do_sample", "must be true or false, got " + value->dump());
    do_sample = value->get<bool>();
  }
  if (const nlohmann::json* value = field("temperature")) {
    if (!value->is_number()) bad("temperature", "must be a number, got " + value->dump());
    temperature = value->get<double>();
  }
  if (const nlohmann::json* value = field("top_k")) {
    if (!value->is_number_integer()) bad("top_k", "must be an integer, got " + value->dump());
    top_k = value->get<int64_t>();
  }
  if (const nlohmann::json* value = field("top_p")) {
    if (!value->is_number()) bad("top_p", "must be a number, got " + value->dump());
    top_p = value->get<double>();
  }
  if (!do_sample) return params;
  // The ranges SamplingParams::validate() checks, named by field here rather than by flag.
  if (!(temperature >= 0) || !std::isfinite(static_cast<float>(temperature)))
    bad("temperature", "must be a finite number >= 0, got " + config["temperature"].dump());
  if (top_k < 0) bad("top_k", "must be >= 0, got " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1)) bad("top_p", "must be in (0, 1], got " + config["top_p"].dump());
  params.temperature = static_cast<float>(temperature);
  params.top_k = top_k;
  params.top_p = static_cast<float>(top_p);
  return params;
}

}  // namespace slkv
