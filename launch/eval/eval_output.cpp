#include "launch/eval/eval_output.h"

#include <fstream>
#include <numeric>

#include "core/error.h"

namespace slkv {

std::filesystem::path policy_output_dir(const std::filesystem::path& out, const std::vector<KvPolicyConfig>& policies,
                                        const KvPolicyConfig& policy) {
  return policies.size() == 1 ? out : out / kv_policy_name(policy.kind);
}

void write_run_file(const std::filesystem::path& out, const std::vector<KvPolicyConfig>& policies,
                    const nlohmann::json& details) {
  nlohmann::json run = details.is_object() ? details : nlohmann::json::object();
  run["policies"] = nlohmann::json::array();
  for (const KvPolicyConfig& policy : policies) run["policies"].push_back(kv_policy_name(policy.kind));
  run["layout"] = policies.size() == 1 ? "flat" : "per-policy";
  std::filesystem::create_directories(out);
  std::ofstream file(out / "run.json");
  if (!(file << run.dump(2) << "\n")) throw Error("cannot write " + (out / "run.json").string());
}

double mean_compression_ratio(const std::vector<double>& ratios) {
  if (ratios.empty()) return 1.0;
  return std::accumulate(ratios.begin(), ratios.end(), 0.0) / static_cast<double>(ratios.size());
}

}  // namespace slkv
