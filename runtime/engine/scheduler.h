#pragma once
// Scheduler: the coordinator's choice of what each engine step runs
// (continuous batching, vLLM / TensorRT-LLM style in-flight batching):
//   * running sequences each get one chunk: a decode token, or the next
//     piece of a prompt (chunked prefill) under a per-step token budget;
//   * waiting requests are admitted first come, first served while there is
//     room in the KV pool, the budget and the running cap;
//   * a step whose appends do not fit the pool preempts the most recently
//     admitted running sequence, which waits (first in line) to be rebuilt.
// It only plans; the Engine executes the plan on every rank.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "runtime/engine/engine_sequence.h"
#include "runtime/engine/step_plan.h"
#include "runtime/kv/kv_cache.h"

namespace slkv {

struct SchedulerLimits {
  int64_t max_batch = 64;          // running sequences at most
  int64_t max_batch_tokens = 512;  // tokens per step (decode tokens + prefill chunks)
};

class Scheduler {
 public:
  Scheduler(SchedulerLimits limits, const KvCache& cache, IndexRange cache_layers)
      : limits_(limits), cache_(cache), layers_(cache_layers) {}

  const SchedulerLimits& limits() const { return limits_; }

  // Queues a sequence for admission: at the back, or (a preempted one) at the front.
  void enqueue(SequenceId id, bool front = false);
  // Forgets the sequence wherever it is queued or running.
  void drop(SequenceId id);
  bool idle() const { return waiting_.empty() && running_.empty(); }
  int64_t running() const { return static_cast<int64_t>(running_.size()); }
  int64_t waiting() const { return static_cast<int64_t>(waiting_.size()); }

  // Adds this step's admissions and chunks to `plan` (which may already hold
  // removals and forks); admitted sequences move to Running.
  void plan_step(std::map<SequenceId, EngineSequence>& sequences, StepPlan& plan);
  // The sequence to preempt when `plan`'s chunks do not fit: the most
  // recently admitted running sequence, unless it is the only one running.
  std::optional<SequenceId> victim(const std::map<SequenceId, EngineSequence>& sequences) const;
  // Moves a running sequence back to the front of the queue.
  void preempt(EngineSequence& sequence);

 private:
  // The chunk a running sequence feeds next, within budget_left (0 tokens: none).
  PlannedChunk next_chunk(const EngineSequence& sequence, int64_t budget_left) const;
  // Blocks the sequence's whole pending input needs (full KV on every layer here).
  int64_t blocks_for_input(const EngineSequence& sequence) const;

  SchedulerLimits limits_;
  const KvCache& cache_;
  IndexRange layers_;
  std::deque<SequenceId> waiting_;
  std::vector<SequenceId> running_;  // in admission order
  int64_t admissions_ = 0;
};

}  // namespace slkv
