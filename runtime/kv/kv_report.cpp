#include "runtime/kv/kv_report.h"

#include <nlohmann/json.hpp>
#include <set>

#include "runtime/kv/kv_policy.h"

namespace slkv {

KvReport make_kv_report(const KvCache& cache, SequenceId sequence, const KvPolicy& policy) {
  KvReport report;
  report.policy = kv_policy_name(policy.config(sequence).kind);
  LayerDecisions decisions = policy.decisions(sequence);
  report.lazy_layers = decisions.lazy;
  report.layer_scores = decisions.scores;
  const int64_t bytes_per_token = cache.bytes_per_token_per_layer();
  for (int64_t layer = 0; layer < cache.geometry().num_layers; ++layer) {
    const int64_t held = cache.tokens_held(sequence, layer);
    report.kv_tokens_per_layer.push_back(held);
    report.kv_bytes += held * bytes_per_token;
    report.kv_bytes_full += cache.tokens_appended(sequence, layer) * bytes_per_token;
    report.kv_blocks += cache.blocks_held(sequence, layer);
  }
  if (cache.dropped_store()) report.offload = cache.dropped_store()->counters(sequence);
  report.compression_ratio =
      report.kv_bytes > 0 ? static_cast<double>(report.kv_bytes_full) / static_cast<double>(report.kv_bytes) : 1.0;
  return report;
}

nlohmann::json to_json(const KvReport& report) {
  nlohmann::json scores = report.layer_scores.empty() ? nlohmann::json(nullptr) : nlohmann::json(report.layer_scores);
  return {
      {"policy", report.policy},       {"lazy_layers", report.lazy_layers},
      {"layer_scores", scores},        {"kv_tokens_per_layer", report.kv_tokens_per_layer},
      {"kv_bytes", report.kv_bytes},   {"kv_bytes_full", report.kv_bytes_full},
      {"kv_blocks", report.kv_blocks}, {"compression_ratio", report.compression_ratio},
  };
}

nlohmann::json to_json(const OffloadCounters& counters) {
  return {{"bytes_parked", counters.bytes_parked},
          {"bytes_restored", counters.bytes_restored},
          {"bytes_evicted", counters.bytes_evicted},
          {"host_bytes_held", counters.bytes_held}};
}

}  // namespace slkv
