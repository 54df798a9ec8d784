#pragma once
// Helpers shared by the subcommands: parsing, thread count, prompt files, sampling defaults.
#include <cstdint>
#include <cxxopts.hpp>
#include <optional>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/checkpoint/model_config.h"
#include "runtime/sampler.h"

namespace slkv {

// Adds -h/--help and parses argv. For --help, prints the options and returns
// nullopt (the command then exits 0).
std::optional<cxxopts::ParseResult> parse_command_line(cxxopts::Options& options, int argc, char** argv);

// The value of a flag the command cannot run without, e.g. required_flag(args,
// "model", "DIR") throws "--model DIR is required" when it is absent.
std::string required_flag(const cxxopts::ParseResult& args, const std::string& name, const std::string& what);

// This process's peak resident memory so far, in bytes.
int64_t peak_rss_bytes();

// Cores available to this process (at least 1).
int default_thread_count();

// A file with one JSON string per line (blank lines skipped). Throws
// slkv::Error naming the file and line of anything else.
std::vector<std::string> read_prompts_file(const std::filesystem::path& path);

// Sampling defaults from dir/generation_config.json as Hugging Face applies
// them (do_sample false or absent = greedy).
SamplingParams generation_defaults(const std::filesystem::path& model_dir);

}  // namespace slkv
