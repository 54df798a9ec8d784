#include "launch/kv_policy_options.h"

#include <sstream>

#include "core/comma_list.h"
#include "core/error.h"

namespace slkv {

void add_kv_policy_options(cxxopts::Options& options) {
  // The defaults of every flag but --kv-policy come from configs/simlayerkv.json
  // at run time; the help repeats them (a test keeps the two in step).
  // clang-format off
  options.add_options("KV policy")
      ("kv-policy", "full, simlayerkv, streaming, snapkv or simlayerkv+snapkv", cxxopts::value<std::string>()->default_value("simlayerkv"))
      ("lazy-threshold", "a layer is lazy when its window attention mass exceeds this, in [0, 1] (default: family preset: llama2 0.65, llama3 0.9, mistral 0.8, qwen2 0.85)", cxxopts::value<double>())
      ("lazy-detect", "prefill (last --obs-window prompt queries) or decode (first generated token) (default: preset prefill)", cxxopts::value<std::string>())
      ("sink", "first tokens a windowed layer keeps (default: preset 4)", cxxopts::value<int64_t>())
      ("recent", "most recent tokens a windowed layer keeps (default: preset 1024)", cxxopts::value<int64_t>())
      ("obs-window", "prompt queries observed in prefill detection and by SnapKV (default: preset 32)", cxxopts::value<int64_t>())
      ("lazy-window", "rolling (keep at most sink+recent) or grow (keep appending) (default: preset rolling)", cxxopts::value<std::string>())
      ("snapkv-budget", "prompt tokens SnapKV keeps per KV head besides the observation window (default: preset 1024)", cxxopts::value<int64_t>())
      ("snapkv-pool", "SnapKV max-pool kernel size (odd) (default: preset 7)", cxxopts::value<int64_t>())
      ("reidentify", "a session's next turn: exact (restore parked KV, score the whole history), cached (score the windowed cache, restore layers that turn non-lazy) or none (dropped KV is gone)", cxxopts::value<std::string>()->default_value("exact"));
  // clang-format on
}

namespace {

KvPolicyConfig kv_policy_named(const cxxopts::ParseResult& args, const ModelConfig& model, const std::string& name) {
  KvPolicyConfig config = KvPolicyConfig::preset_for(model);
  config.kind = parse_kv_policy(name);
  if (args.count("lazy-threshold")) {
    // A window's attention mass is a probability: a threshold outside [0, 1]
    // makes every layer lazy (< 0) or none (> 1); --kv-policy says that plainly.
    const double threshold = args["lazy-threshold"].as<double>();
    if (!(threshold >= 0 && threshold <= 1)) {
      std::ostringstream value;
      value << threshold;
      throw Error("--lazy-threshold must be in [0, 1], got " + value.str());
    }
    config.threshold = threshold;
  }
  if (args.count("lazy-detect")) config.detect = parse_lazy_detect(args["lazy-detect"].as<std::string>());
  if (args.count("sink")) config.sink = args["sink"].as<int64_t>();
  if (args.count("recent")) config.recent = args["recent"].as<int64_t>();
  if (args.count("obs-window")) config.obs_window = args["obs-window"].as<int64_t>();
  if (args.count("lazy-window")) config.growth = parse_lazy_window(args["lazy-window"].as<std::string>());
  if (args.count("snapkv-budget")) config.snapkv_budget = args["snapkv-budget"].as<int64_t>();
  if (args.count("snapkv-pool")) config.snapkv_pool = args["snapkv-pool"].as<int64_t>();
  config.reidentify = parse_reidentify(args["reidentify"].as<std::string>());
  config.validate();
  return config;
}

}  // namespace

KvPolicyConfig kv_policy_from_args(const cxxopts::ParseResult& args, const ModelConfig& model) {
  return kv_policy_named(args, model, args["kv-policy"].as<std::string>());
}

std::vector<KvPolicyConfig> kv_policies_from_args(const cxxopts::ParseResult& args, const ModelConfig& model) {
  std::vector<KvPolicyConfig> policies;
  for (const std::string& name : split_comma_list(args["kv-policy"].as<std::string>())) {
    const KvPolicyConfig policy = kv_policy_named(args, model, name);
    for (const KvPolicyConfig& earlier : policies)
      if (earlier.kind == policy.kind) throw Error("--kv-policy names " + name + " twice");
    policies.push_back(policy);
  }
  if (policies.empty()) throw Error("--kv-policy is empty");
  return policies;
}

}  // namespace slkv
