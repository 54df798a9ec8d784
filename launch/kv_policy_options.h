#pragma once
// The KV-policy flags shared by generate, analyze-layers and the benchmarks.
#include <cxxopts.hpp>
#include <vector>

#include "runtime/kv/kv_policy_config.h"
#include "runtime/checkpoint/model_config.h"

namespace slkv {

// --kv-policy, --lazy-threshold, --lazy-detect, --sink, --recent,
// --obs-window, --lazy-window, --snapkv-budget, --snapkv-pool.
void add_kv_policy_options(cxxopts::Options& options);

// The model family's preset with every flag the user gave applied; validated.
KvPolicyConfig kv_policy_from_args(const cxxopts::ParseResult& args, const ModelConfig& model);

// For the commands that compare policies in one run (slkv eval): --kv-policy
// may be a comma-separated list ("full,simlayerkv,streaming"); each entry
// gets the same flags. Throws slkv::Error for an unknown or repeated name.
std::vector<KvPolicyConfig> kv_policies_from_args(const cxxopts::ParseResult& args, const ModelConfig& model);

}  // namespace slkv
