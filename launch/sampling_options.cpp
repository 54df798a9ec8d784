#include "launch/sampling_options.h"

#include <algorithm>
#include <random>
#include <string>

#include "core/error.h"
#include "launch/cli_common.h"

namespace slkv {

void add_sampling_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options()
      ("max-new-tokens", "tokens to generate at most", cxxopts::value<int64_t>()->default_value("256"))
      ("temperature", "0 (or below 1e-5) = greedy (default: generation_config.json, else 0)", cxxopts::value<float>())
      ("top-k", "keep the k most likely tokens, 0 = off (default: generation_config.json when it samples, else 0)", cxxopts::value<int64_t>())
      ("top-p", "nucleus sampling mass, 1 = off (default: generation_config.json when it samples, else 1)", cxxopts::value<float>())
      ("seed", "sampling seed (default: random)", cxxopts::value<uint64_t>());
  // clang-format on
}

SamplingChoice sampling_from_args(const cxxopts::ParseResult& args, const std::filesystem::path& model_dir) {
  SamplingChoice choice;
  SamplingParams& sampling = choice.params;
  sampling = generation_defaults(model_dir);
  if (args.count("temperature")) sampling.temperature = args["temperature"].as<float>();
  if (args.count("top-k")) sampling.top_k = args["top-k"].as<int64_t>();
  if (args.count("top-p")) sampling.top_p = args["top-p"].as<float>();
  choice.random_seed = args.count("seed") == 0;
  sampling.seed = choice.random_seed ? std::random_device{}() : args["seed"].as<uint64_t>();
  sampling.validate();
  choice.max_new_tokens = args["max-new-tokens"].as<int64_t>();
  if (choice.max_new_tokens < 0)
    throw Error("--max-new-tokens must be >= 0, got " + std::to_string(choice.max_new_tokens));
  return choice;
}

std::vector<int32_t> stop_token_ids(const ModelConfig& config, const Tokenizer& tokenizer) {
  std::vector<int32_t> stops = config.eos_token_ids;
  if (tokenizer.eos_id() >= 0 && std::find(stops.begin(), stops.end(), tokenizer.eos_id()) == stops.end())
    stops.push_back(tokenizer.eos_id());
  return stops;
}

}  // namespace slkv
