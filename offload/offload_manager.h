#pragma once
// OffloadManager: the dropped-KV store of one rank (runtime/kv/dropped_kv_store.h)
// in a HostPool. For each session (a kept engine sequence that
// re-identifies lazy layers) and layer it holds the parked position range
// [begin, end) in host pages of `page_tokens` tokens: keys then values.
//
// Copies are batched: a park or a restore is one Backend::copy_host_regions
// call (one cudaMemcpyBatchAsync on the copy stream under CUDA), followed by
// the fence that orders later device work after it.
//
// When the pool is full, the least recently used other session loses all
// its parked tokens (bytes_evicted, take_evicted); when no other session
// holds any, the parking session loses its own. A session that lost its
// parked tokens parks nothing more: the engine re-prefills it from its
// token history on its next turn.
#include <cstdint>
#include <map>
#include <vector>

#include "offload/host_pool.h"
#include "runtime/kv/dropped_kv_store.h"

namespace slkv {

struct OffloadTotals {
  int64_t bytes_parked = 0;
  int64_t bytes_restored = 0;
  int64_t bytes_evicted = 0;
  int64_t sessions_evicted = 0;  // sessions that lost their parked tokens
  int64_t sessions = 0;          // sessions held now
  int64_t bytes_held = 0;
};

class OffloadManager final : public DroppedKvStore {
 public:
  // floats_per_token: this rank's KV heads x head_dim (keys; values the same).
  OffloadManager(Backend& backend, int64_t floats_per_token, int64_t capacity_bytes, int64_t page_tokens = 16);

  void add_sequence(SequenceId sequence) override;
  void remove_sequence(SequenceId sequence) override;
  void fork_sequence(SequenceId parent, SequenceId child) override;
  bool parks(SequenceId sequence) const override;
  void touch(SequenceId sequence) override;
  std::vector<SequenceId> take_evicted() override;
  OffloadCounters counters(SequenceId sequence) const override;

  IndexRange parked(SequenceId sequence, int64_t layer) const override;
  void park(SequenceId sequence, int64_t layer, int64_t first_position, std::span<const KvSpan> runs) override;
  void restore(SequenceId sequence, int64_t layer, IndexRange positions, std::span<const KvSlots> slots) override;
  void forget_layer(SequenceId sequence, int64_t layer) override;

  OffloadTotals totals() const;
  const HostPool& pool() const { return pool_; }
  int64_t bytes_per_token() const { return 2 * floats_per_token_ * static_cast<int64_t>(sizeof(float)); }

 private:
  struct ParkedLayer {
    int64_t begin = 0, end = 0;     // parked positions
    std::vector<HostPageId> pages;  // position p: page (p - begin) / page_tokens_
  };
  struct Session {
    std::map<int64_t, ParkedLayer> layers;
    int64_t last_used = 0;
    bool lost = false;  // its parked tokens were evicted: it parks nothing more
    OffloadCounters counters;
  };

  Session& session(SequenceId sequence);
  const Session& session(SequenceId sequence) const;
  // A page, evicting least recently used sessions (`sequence` last, `spare`
  // never) for room; nothing when `sequence` itself had to be evicted.
  std::optional<HostPageId> allocate_page(SequenceId sequence, SequenceId spare = -1);
  void evict(SequenceId sequence, Session& s);
  void free_layer(Session& s, ParkedLayer& layer);
  // Keys (or values) of parked position p of the layer in host memory.
  float* host_keys(const ParkedLayer& layer, int64_t position);
  float* host_values(const ParkedLayer& layer, int64_t position);

  Backend& backend_;
  int64_t floats_per_token_;
  int64_t page_tokens_;
  HostPool pool_;
  std::map<SequenceId, Session> sessions_;
  std::vector<SequenceId> evicted_;
  int64_t clock_ = 0;
  OffloadTotals totals_;
};

}  // namespace slkv
