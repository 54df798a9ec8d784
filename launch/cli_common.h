#pragma once
// Helpers shared by the subcommands: parsing, thread count, prompt files, sampling defaults.
#include <cstdint>
#include <cxxopts.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/checkpoint/model_config.h"
#include "runtime/sampler.h"

namespace slkv {

// Adds -h/--help and parses argv. For --help, prints the options and returns
// nullopt (the command then exits 0). Throws slkv::UsageError for a word that
// belongs to no flag (e.g. the rest of an unquoted --prompt Once upon a time),
// and slkv::Error when --prompt (where the command has it) is not valid UTF-8.
std::optional<cxxopts::ParseResult> parse_command_line(cxxopts::Options& options, int argc, char** argv);

// The value of a flag the command cannot run without, e.g. required_flag(args,
// "model", "DIR") throws UsageError "--model DIR is required" when it is absent.
std::string required_flag(const cxxopts::ParseResult& args, const std::string& name, const std::string& what);

// Throws slkv::Error "<what>: not valid UTF-8 (byte 0x.. at offset N)" unless
// `text` is valid UTF-8; `what` names the source, e.g. "--prompt" or "FILE:LINE".
void check_utf8(std::string_view text, const std::string& what);

// This process's peak resident memory so far, in bytes.
int64_t peak_rss_bytes();

// Cores available to this process (at least 1).
int default_thread_count();

// The whole text of `path`, or of standard input when it is "-"; `name` is
// the path, or "<stdin>", for messages.
struct InputText {
  std::string name;
  std::string text;
};
InputText read_input_text(const std::filesystem::path& path);

// A file with one JSON string per line (blank lines skipped); "-" reads
// standard input. Throws slkv::Error naming the file (or <stdin>) and line of
// anything else, invalid UTF-8 included.
std::vector<std::string> read_prompts_file(const std::filesystem::path& path);

// The JSON values of a JSON-lines file (blank lines skipped; "-" = standard
// input), each with "FILE:LINE" for messages. Throws slkv::Error naming the
// line of invalid UTF-8 or JSON, or of JSON nested deeper than kMaxJsonNesting.
template <class Json>
struct BasicJsonLine {
  std::string where;
  Json value;
};
using JsonLine = BasicJsonLine<nlohmann::json>;
std::vector<JsonLine> read_json_lines(const std::filesystem::path& path);
// The same with objects' keys in the file's order, as Python reads them: for
// chat messages, whose keys a template's `tojson` writes in that order.
using OrderedJsonLine = BasicJsonLine<nlohmann::ordered_json>;
std::vector<OrderedJsonLine> read_ordered_json_lines(const std::filesystem::path& path);

// A JSON array of token ids (file, or "-" for standard input). Throws
// slkv::Error naming the file and the element of anything else.
std::vector<int32_t> read_prompt_ids(const std::filesystem::path& path);

// The shared data (anchors, essays) the benchmarks default to: $SLKV_SHARED,
// else the shared/ beside the source tree.
std::filesystem::path shared_data_dir();

// Sampling defaults from dir/generation_config.json as Hugging Face applies
// them (do_sample false or absent = greedy). Throws slkv::Error naming the
// file and field of a value of the wrong type or out of range.
SamplingParams generation_defaults(const std::filesystem::path& model_dir);

}  // namespace slkv
