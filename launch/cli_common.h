#pragma once
// Helpers shared by the subcommands: thread count, prompt files, sampling defaults.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/model_config.h"
#include "runtime/sampler.h"

namespace slkv {

// Cores available to this process (at least 1).
int default_thread_count();

// A file with one JSON string per line (blank lines skipped). Throws
// slkv::Error naming the file and line of anything else.
std::vector<std::string> read_prompts_file(const std::filesystem::path& path);

// Sampling defaults from dir/generation_config.json as Hugging Face applies
// them (do_sample false or absent = greedy).
SamplingParams generation_defaults(const std::filesystem::path& model_dir);

}  // namespace slkv
