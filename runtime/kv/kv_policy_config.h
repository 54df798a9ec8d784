#pragma once
// KvPolicyConfig: which KV policy a request runs and its parameters, with the
// per-family SimLayerKV presets of configs/simlayerkv.json as defaults.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/kv/kv_cache.h"
#include "runtime/checkpoint/model_config.h"

namespace slkv {

enum class KvPolicyKind {
  Full,              // keep everything
  SimLayerKV,        // lazy layers windowed, others full
  Streaming,         // every layer windowed (StreamingLLM)
  SnapKV,            // every layer keeps its top-attended prompt tokens
  SimLayerKVSnapKV,  // lazy layers windowed, others SnapKV-compressed
};

// Which queries observe the attention that decides lazy layers.
enum class LazyDetect {
  Prefill,  // the last obs_window prompt queries, during prefill
  Decode,   // the first generated token's query, when it is fed back
};

// How the next turn of a kept sequence (a chat session) treats the layers
// its last turn windowed as lazy. See docs/ARCHITECTURE.md, "Sessions".
enum class Reidentify {
  Exact,   // their parked KV comes back before the turn's prefill; scores see the whole history
  Cached,  // scores on the windowed cache; only layers that turn non-lazy get their KV back
  None,    // what they dropped is gone for good (the reference code); nothing is parked
};

struct KvPolicyConfig {
  KvPolicyKind kind = KvPolicyKind::Full;
  double threshold = 0.65;
  LazyDetect detect = LazyDetect::Prefill;
  int64_t sink = 4;
  int64_t recent = 1024;
  int64_t obs_window = 32;
  WindowGrowth growth = WindowGrowth::Rolling;
  int64_t snapkv_budget = 1024;
  int64_t snapkv_pool = 7;
  // SimLayerKV with these layers lazy, whatever the scores (which are still
  // computed and reported); empty = decide from the scores. For controls and
  // experiments that fix the windowed layers.
  std::vector<bool> fixed_lazy_layers;
  Reidentify reidentify = Reidentify::Exact;

  // The preset for the model's family, read from configs/simlayerkv.json
  // (directory from $SLKV_CONFIG_DIR, else the source tree's configs/).
  static KvPolicyConfig preset_for(const ModelConfig& model);

  // Throws slkv::Error naming the flag of any bad value.
  void validate() const;

  bool uses_lazy_layers() const { return kind == KvPolicyKind::SimLayerKV || kind == KvPolicyKind::SimLayerKVSnapKV; }
  bool uses_snapkv() const { return kind == KvPolicyKind::SnapKV || kind == KvPolicyKind::SimLayerKVSnapKV; }
};

KvPolicyKind parse_kv_policy(const std::string& name);
std::string kv_policy_name(KvPolicyKind kind);
LazyDetect parse_lazy_detect(const std::string& name);
std::string lazy_detect_name(LazyDetect detect);
WindowGrowth parse_lazy_window(const std::string& name);
std::string lazy_window_name(WindowGrowth growth);
Reidentify parse_reidentify(const std::string& name);
std::string reidentify_name(Reidentify mode);

}  // namespace slkv
