#pragma once
// The sampling flags of the generating subcommands (generate, chat):
// --max-new-tokens, --temperature, --top-k, --top-p, --seed, and the stop ids.
#include <cstdint>
#include <cxxopts.hpp>
#include <filesystem>
#include <vector>

#include "runtime/checkpoint/model_config.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

void add_sampling_options(cxxopts::Options& options);

struct SamplingChoice {
  SamplingParams params;  // generation_config.json's defaults, then the flags
  bool random_seed = false;  // no --seed: the seed was drawn (print it so a sampled run can be repeated)
  int64_t max_new_tokens = 256;
};
// Throws slkv::Error naming the flag or file of a bad value.
SamplingChoice sampling_from_args(const cxxopts::ParseResult& args, const std::filesystem::path& model_dir);

// What ends a reply: config.json's eos ids and the tokenizer's EOS.
std::vector<int32_t> stop_token_ids(const ModelConfig& config, const Tokenizer& tokenizer);

}  // namespace slkv
