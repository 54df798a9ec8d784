#pragma once
// DistributedSync: what the Engine and KvPolicy need from the other ranks of
// a tensor/pipeline-parallel job, so the runtime stays independent of MPI.
// parallel/coordinator.h implements it (the whole coordinator protocol: step
// plans, logits, scores, decisions, finished sequences); a single-process run
// passes null.
#include <cstdint>
#include <vector>

#include "runtime/kv/kv_report.h"

namespace slkv {

class DistributedSync {
 public:
  virtual ~DistributedSync() = default;

  // World rank 0: schedules, samples tokens and makes the lazy-layer decisions.
  virtual bool is_coordinator() const = 0;
  // Whether this rank's pipeline stage runs (and caches) `layer`.
  virtual bool owns_layer(int64_t layer) const = 0;

  // The coordinator's words (a step plan, a list of finished sequences) to
  // every rank; only the coordinator needs to know their count.
  virtual void broadcast_words(std::vector<int64_t>& words) = 0;
  // The largest of every rank's value, on every rank.
  virtual int64_t max_over_ranks(int64_t value) = 0;
  // Before each step that runs a forward pass (fault injection hook).
  virtual void before_step(int64_t step) = 0;

  // After each forward, on every rank: moves the rows x vocab logits of the
  // last stage to the coordinator (other ranks' logits are unspecified after).
  virtual void logits_to_coordinator(std::vector<float>& logits, int64_t rows, int64_t vocab) = 0;

  // Per-layer score sums of this rank's heads and layers, summed over every
  // rank (TP all-reduce, then PP stages to the coordinator); the result is
  // valid on the coordinator only.
  virtual void gather_scores(std::vector<double>& values) = 0;
  // The coordinator's decision buffer, to every rank (same size everywhere).
  virtual void broadcast_decisions(std::vector<double>& buffer) = 0;
  // SnapKV key masses [n_kv_heads][n_keys] summed over the ranks that hold
  // the same (replicated) KV heads; a no-op when KV heads are split.
  virtual void reduce_key_mass(std::vector<float>& key_mass) = 0;
  // Each rank's report covers its KV heads of its stage's layers: the sum
  // over the ranks is the whole model's, on every rank.
  virtual void merge_kv_report(KvReport& report) = 0;
};

}  // namespace slkv
