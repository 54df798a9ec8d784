#pragma once
// KvPolicy: runs one batch's KV policy around the Generator. It observes
// attention during prefill (or the first decode step) through the
// AttentionObserver hook, scores every layer of every sequence, decides which
// layers are lazy, and applies the retention to the KvCache: windows for lazy
// layers (or all layers: streaming), SnapKV token selection, or nothing.
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "kernels/backend.h"
#include "kernels/backend_buffer.h"
#include "runtime/kv/kv_cache.h"
#include "runtime/distributed_sync.h"
#include "runtime/kv/kv_policy_config.h"
#include "runtime/model.h"

namespace slkv {

// What the policy decided for one sequence.
struct LayerDecisions {
  std::vector<double> scores;  // window attention mass per layer (empty until scored)
  std::vector<bool> lazy;      // layers windowed as lazy
  bool decided = false;
};

class KvPolicy final : public AttentionObserver {
 public:
  KvPolicy(const KvPolicyConfig& config, int64_t num_layers, Backend& backend);

  const KvPolicyConfig& config() const { return config_; }

  // Before the prefill forward: returns the observer to pass to it (or null).
  AttentionObserver* begin_prefill(std::span<const SequenceChunk> chunks);
  // After it: scores, decides and trims what the prefill observation allows.
  void end_prefill(KvCache& cache);
  // Decode steps: step 0 is the first generated token being fed back.
  AttentionObserver* begin_decode_step(int64_t step, std::span<const SequenceChunk> chunks);
  void end_decode_step(int64_t step, KvCache& cache);

  void observe(int64_t layer, const SequenceChunk& chunk, const float* queries, const float* lse, const KvCache& cache,
               const AttentionShape& shape) override;

  // Decisions for a sequence (all layers false and no scores before scoring).
  LayerDecisions decisions(SequenceId sequence) const;

  // Used by distributed runs: replaces the local decision with one decided elsewhere.
  void set_decisions(SequenceId sequence, const std::vector<bool>& lazy);

  // Distributed runs: scores are summed over the ranks, the coordinator
  // decides, and every rank applies exactly its decision vector (only to the
  // layers its stage owns). Null = one process decides alone.
  void set_sync(DistributedSync* sync) { sync_ = sync; }

 private:
  enum class Phase { Idle, Prefill, FirstDecode };
  struct SequenceState {
    std::vector<double> window_mass;           // per layer: summed probability on the windows
    std::vector<int64_t> observed;             // per layer: (query, head) pairs observed
    std::vector<std::vector<float>> key_mass;  // per layer: [n_kv_heads][n_scored] for SnapKV
    LayerDecisions decisions;
    bool applied = false;  // distributed runs: retention applied
  };

  bool scores_in(Phase phase) const;
  void decide_and_apply(KvCache& cache);
  // score -> decide -> apply, split so that distributed runs decide once.
  void score(SequenceState& state) const;
  bool decide(SequenceState& state) const;  // false: not decidable yet
  void apply(KvCache& cache, SequenceId sequence, SequenceState& state);
  void exchange_and_decide();
  void apply_snapkv(KvCache& cache, SequenceId sequence, int64_t layer, SequenceState& state) const;

  KvPolicyConfig config_;
  int64_t num_layers_;
  Backend& backend_;
  Phase phase_ = Phase::Idle;
  std::map<SequenceId, SequenceState> sequences_;
  DistributedSync* sync_ = nullptr;
  BackendBuffer key_mass_scratch_;  // GPU backends: SnapKV key masses before they reach the host
};

// SnapKV's choice for one layer: per KV head, the `budget` highest-scoring
// slots of [0, n_scored - obs_window) after max-pooling the scores with an
// odd `pool` kernel, plus every slot from n_scored - obs_window to held - 1.
// key_mass is [n_kv_heads][n_scored]. Returns ascending slots per head.
std::vector<std::vector<int64_t>> snapkv_select(const std::vector<float>& key_mass, int64_t n_kv_heads,
                                                int64_t n_scored, int64_t held, int64_t obs_window, int64_t budget,
                                                int64_t pool);

}  // namespace slkv
