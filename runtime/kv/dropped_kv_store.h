#pragma once
// DroppedKvStore: where the KV cache sends the tokens a windowed (lazy)
// layer drops, and whence it brings them back when a later turn finds the
// layer no longer lazy. offload/OffloadManager implements it in host memory;
// runtime/ sees only this interface (as with distributed_sync.h).
//
// A windowed layer keeps positions [0, sink) and its recent window; what it
// dropped is always one run of positions [sink, cut), growing as tokens roll
// out of the window. So a layer's parked tokens are one position range.
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/backend.h"
#include "runtime/model_shard.h"

namespace slkv {

using SequenceId = int64_t;

// A writable run of consecutive cache slots (keys and values
// [n_tokens][n_kv_heads][head_dim]) in the cache's memory: a restore target.
struct KvSlots {
  float* keys = nullptr;
  float* values = nullptr;
  int64_t n_tokens = 0;
};

// What the store did for one sequence (bytes of keys + values).
struct OffloadCounters {
  int64_t bytes_parked = 0;    // copied to the host
  int64_t bytes_restored = 0;  // copied back
  int64_t bytes_evicted = 0;   // dropped for room (host memory ran out)
  int64_t bytes_held = 0;      // held now
};

class DroppedKvStore {
 public:
  virtual ~DroppedKvStore() = default;

  // ---- sequences (the engine) ----
  // Starts keeping what the sequence's layers drop (a session that
  // re-identifies lazy layers); the other sequences' drops are just freed.
  virtual void add_sequence(SequenceId sequence) = 0;
  virtual void remove_sequence(SequenceId sequence) = 0;  // frees its parked tokens
  virtual void fork_sequence(SequenceId parent, SequenceId child) = 0;  // the child gets a copy
  virtual bool parks(SequenceId sequence) const = 0;
  // The sequence was used now (least recently used sessions are evicted first).
  virtual void touch(SequenceId sequence) = 0;
  // Sequences whose parked tokens were evicted (host memory ran out) since
  // the last call: their windowed layers can no longer be restored.
  virtual std::vector<SequenceId> take_evicted() = 0;
  virtual OffloadCounters counters(SequenceId sequence) const = 0;

  // ---- layers (the KV cache) ----
  // The layer's parked positions (empty when none).
  virtual IndexRange parked(SequenceId sequence, int64_t layer) const = 0;
  // Parks positions [first_position, first_position + the runs' tokens),
  // read from `runs` (cache memory, or keys being appended). Positions it
  // already holds are not copied again; the range may not leave a gap after
  // the parked one. May evict other sequences' parked tokens for room.
  virtual void park(SequenceId sequence, int64_t layer, int64_t first_position, std::span<const KvSpan> runs) = 0;
  // Copies the parked `positions` into `slots` (their tokens in order): one
  // batched host copy, issued, not waited for (the cache fences with
  // Backend::fence_host_copies before the slots are read).
  virtual void restore(SequenceId sequence, int64_t layer, IndexRange positions, std::span<const KvSlots> slots) = 0;
  // The layer's KV is whole on the device again: its parked tokens go.
  virtual void forget_layer(SequenceId sequence, int64_t layer) = 0;
};

}  // namespace slkv
