#pragma once
// StepPlan: everything one engine step does to the KV cache and the model,
// as the coordinator (world rank 0) scheduled it. Under mpirun it is
// broadcast each step, so every rank runs exactly the same step; on one
// process it is just the scheduler's output. The token ids travel in it, so
// the other ranks need no tokenizer and no request state.
#include <cstdint>
#include <utility>
#include <vector>

#include "runtime/kv/kv_cache.h"
#include "runtime/kv/kv_policy_config.h"

namespace slkv {

// A sequence the cache and the policy start to hold.
struct PlannedSequence {
  SequenceId sequence = 0;
  int64_t prompt_tokens = 0;  // the prompt (a session re-prefilled: its whole history): the policy observes its end
  bool park = false;          // a session: what its lazy layers drop is parked (DroppedKvStore)
  KvPolicyConfig policy;
};

// A new turn of a kept sequence whose KV the cache holds: its input is
// positions [first, end); restore: its windowed layers get their parked KV
// back before the turn runs (--reidentify exact).
struct PlannedTurn {
  SequenceId sequence = 0;
  int64_t first = 0;
  int64_t end = 0;
  bool restore = false;
};

// A child sequence that starts as a copy of its parent.
struct PlannedFork {
  SequenceId parent = 0;
  SequenceId child = 0;
  bool copy_blocks = false;  // own copies of the blocks, not shared ones
};

// New tokens of one sequence for this step's forward pass.
struct PlannedChunk {
  SequenceId sequence = 0;
  int64_t first_position = 0;
  std::vector<int32_t> tokens;
};

struct StepPlan {
  bool stop = false;                                  // followers leave Engine::follow()
  std::vector<SequenceId> removed;                    // released or cancelled: KV and decisions dropped
  std::vector<SequenceId> preempted;                  // KV freed; decisions kept for the rebuild
  std::vector<SequenceId> evicted;                    // idle sessions: KV, decisions and parked KV dropped
  std::vector<PlannedFork> forks;
  std::vector<PlannedSequence> added;                 // admitted for the first time
  std::vector<SequenceId> rebuilt;                    // admitted again after a preemption
  std::vector<PlannedTurn> turns;                     // kept sequences admitted for a new turn
  std::vector<PlannedChunk> chunks;                   // at most one per sequence

  bool empty() const {
    return !stop && removed.empty() && preempted.empty() && evicted.empty() && forks.empty() && added.empty() &&
           rebuilt.empty() && turns.empty() && chunks.empty();
  }

  // A flat encoding for the broadcast, and back.
  std::vector<int64_t> encode() const;
  static StepPlan decode(const std::vector<int64_t>& words);
};

}  // namespace slkv
