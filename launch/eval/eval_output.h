#pragma once
// Where `slkv eval` writes: with one KV policy, its files go straight into
// --out DIR; with several (--kv-policy a,b), each policy gets DIR/<policy>/.
// DIR/run.json records the policies, so that `slkv eval score` can name
// them, and what the run did per task.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "runtime/kv/kv_policy_config.h"

namespace slkv {

std::filesystem::path policy_output_dir(const std::filesystem::path& out, const std::vector<KvPolicyConfig>& policies,
                                        const KvPolicyConfig& policy);

// Writes DIR/run.json: {"policies": [names], "layout": "flat" | "per-policy"} plus `details`.
void write_run_file(const std::filesystem::path& out, const std::vector<KvPolicyConfig>& policies,
                    const nlohmann::json& details);

// The row-level mean of a JSON array of per-row "kv" reports' compression ratios (1 when empty).
double mean_compression_ratio(const std::vector<double>& ratios);

}  // namespace slkv
