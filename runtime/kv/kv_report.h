#pragma once
// KvReport: what a sequence's KV cache holds at the end of generation, and
// what the policy decided. Definitions (also in README):
//   kv_bytes          tokens held, summed over layers, x bytes per token per layer
//   kv_bytes_full     tokens appended (what full KV would hold), same units
//   compression_ratio kv_bytes_full / kv_bytes
//   kv_blocks         pool blocks the sequence holds (block granularity)
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "runtime/kv/kv_cache.h"

namespace slkv {

class KvPolicy;

struct KvReport {
  std::string policy;
  std::vector<bool> lazy_layers;
  std::vector<double> layer_scores;  // empty when the sequence was never scored
  std::vector<int64_t> kv_tokens_per_layer;
  int64_t kv_bytes = 0;
  int64_t kv_bytes_full = 0;
  int64_t kv_blocks = 0;
  double compression_ratio = 1.0;
  OffloadCounters offload;  // what the dropped-KV store did for it (zeros without one)
};

KvReport make_kv_report(const KvCache& cache, SequenceId sequence, const KvPolicy& policy);

nlohmann::json to_json(const KvReport& report);
nlohmann::json to_json(const OffloadCounters& counters);

}  // namespace slkv
