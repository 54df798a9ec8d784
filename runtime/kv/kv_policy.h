#pragma once
// KvPolicy: the KV policy of every sequence the engine runs. It observes
// attention through the AttentionObserver hook while a sequence's prompt is
// prefilled (in chunks of any size) or its first generated token is fed back,
// scores every layer, decides which layers are lazy, and applies the
// retention to the KvCache: windows for lazy layers (or all layers:
// streaming), SnapKV token selection, or nothing.
//
// Positions, not passes, say what is observed: with P the prompt length,
// prefill detection observes the queries at positions [P - obs_window, P),
// decode detection the query at P (the first generated token fed back).
// Retention is applied right after the pass that reaches the trim position
// (P, or P + 1 for lazy layers detected at decode), however the prompt was
// chunked, so decisions do not depend on the chunking or on the batch.
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "kernels/backend.h"
#include "kernels/backend_buffer.h"
#include "runtime/distributed_sync.h"
#include "runtime/kv/kv_cache.h"
#include "runtime/kv/kv_policy_config.h"
#include "runtime/model.h"

namespace slkv {

// What the policy decided for one sequence.
struct LayerDecisions {
  std::vector<double> scores;  // window attention mass per layer, in [0, 1] (empty until scored)
  std::vector<bool> lazy;      // layers windowed as lazy
  bool decided = false;
};

class KvPolicy final : public AttentionObserver {
 public:
  // sync: distributed runs sum scores over the ranks, the coordinator
  // decides, every rank applies its decision vector (to the layers its stage
  // owns). Null = one process decides alone.
  KvPolicy(int64_t num_layers, Backend& backend, DistributedSync* sync = nullptr);

  // Starts observing a sequence whose prompt has prompt_tokens tokens, under
  // its own (per-request) configuration.
  void add_sequence(SequenceId sequence, const KvPolicyConfig& config, int64_t prompt_tokens);
  void remove_sequence(SequenceId sequence);
  // `child` starts with `parent`'s configuration, observations and decisions.
  void fork_sequence(SequenceId parent, SequenceId child);
  // Preemption: the sequence's KV is rebuilt from its tokens, so it is
  // observed again (SnapKV needs its key masses), but its decisions stand.
  void restart_observation(SequenceId sequence);
  // A new turn of a kept sequence: its input is positions [first, end). The
  // layers are identified again on the turn's queries (the last obs_window
  // of them, or all when the turn is shorter) and retention is applied again
  // at `end` (end + 1 with decode detection). Layers windowed before and
  // still lazy stay windowed; those no longer lazy are whole again (Exact:
  // restored by the engine before the turn; Cached: restored here when
  // decided; None: they stay windowed).
  void begin_turn(SequenceId sequence, int64_t first, int64_t end);

  // The position after which retention is applied (see above).
  int64_t trim_position(SequenceId sequence) const;
  const KvPolicyConfig& config(SequenceId sequence) const;

  void observe(int64_t layer, const SequenceChunk& chunk, const float* queries, const float* lse, const KvCache& cache,
               const AttentionShape& shape) override;

  // After a forward pass of `chunks`: scores, decides and applies retention
  // for the sequences whose chunk reached their scoring or trim position.
  // Collective in distributed runs: every rank passes the same chunks.
  void after_pass(KvCache& cache, std::span<const SequenceChunk> chunks);

  // Decisions for a sequence (all layers false and no scores before scoring).
  LayerDecisions decisions(SequenceId sequence) const;

 private:
  struct SequenceState {
    KvPolicyConfig config;
    int64_t prompt_tokens = 0;                 // the end of the input being observed (the turn's)
    int64_t turn_begin = 0;                    // its first position
    std::vector<double> window_mass;           // per layer: summed probability on the windows
    std::vector<int64_t> observed;             // per layer: (query, head) pairs observed
    std::vector<std::vector<float>> key_mass;  // per layer: [n_kv_heads][keys] for SnapKV
    std::vector<int64_t> key_mass_keys;        // per layer: keys of key_mass
    LayerDecisions decisions;
    bool applied = false;  // retention applied
    bool scored = false;   // scores final
  };

  SequenceState& state_of(SequenceId sequence);
  const SequenceState& state_of(SequenceId sequence) const;
  // Positions whose queries are scored / whose key masses SnapKV uses.
  IndexRange score_positions(const SequenceState& state) const;
  IndexRange snapkv_positions(const SequenceState& state) const;
  void observe_key_mass(SequenceState& state, int64_t layer, const float* queries, int64_t count,
                        int64_t first_query_key, const float* lse, const std::vector<KvSpan>& spans,
                        const AttentionShape& shape, int64_t held);
  void score(SequenceState& state) const;
  bool decide(SequenceState& state) const;  // false: not decidable yet
  void exchange_decisions(const std::vector<SequenceState*>& pending);
  void apply(KvCache& cache, SequenceId sequence, SequenceState& state);
  void apply_snapkv(KvCache& cache, SequenceId sequence, int64_t layer, SequenceState& state) const;

  int64_t num_layers_;
  Backend& backend_;
  DistributedSync* sync_;
  std::map<SequenceId, SequenceState> sequences_;
  BackendBuffer key_mass_scratch_;  // SnapKV key masses in the backend's memory before they reach the host
  std::vector<float> key_mass_pass_;
};

// SnapKV's choice for one layer: per KV head, the `budget` highest-scoring
// slots of [0, n_scored - obs_window) after max-pooling the scores with an
// odd `pool` kernel, plus every slot from n_scored - obs_window to held - 1.
// key_mass is [n_kv_heads][n_scored]. Returns ascending slots per head.
std::vector<std::vector<int64_t>> snapkv_select(const std::vector<float>& key_mass, int64_t n_kv_heads,
                                                int64_t n_scored, int64_t held, int64_t obs_window, int64_t budget,
                                                int64_t pool);

}  // namespace slkv
