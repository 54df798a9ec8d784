#pragma once
// Engine: the one place that drives the model. It owns the paged KV cache
// and the KV policy of every sequence, and advances a changing set of
// sequences one batched forward pass at a time (continuous batching with
// chunked prefill and preemption; see scheduler.h). Sequences may outlive
// their request (`keep`): a kept sequence can be extended with new tokens,
// forked (the child shares its KV blocks) and released.
//
// Under mpirun, world rank 0 (the coordinator) takes requests, schedules,
// samples and decides; it broadcasts each step's plan, and every other rank
// runs follow(), executing the same plans on its shard.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/backend_buffer.h"
#include "runtime/distributed_sync.h"
#include "runtime/engine/engine_request.h"
#include "runtime/engine/engine_sequence.h"
#include "runtime/engine/scheduler.h"
#include "runtime/engine/step_plan.h"
#include "runtime/kv/kv_cache.h"
#include "runtime/kv/kv_policy.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

struct EngineConfig {
  SchedulerLimits limits;
  int64_t kv_blocks = 0;        // pool size in blocks of 16 tokens; 0 = kv_blocks_default()
  KvPolicyConfig kv_policy;     // for requests that do not bring their own
  int64_t micro_batches = 1;    // pipeline parallel: split each pass so the stages overlap
};

// The pool a default engine gets: room for max_batch sequences of the
// model's full context (blocks are allocated as used, so unused room costs
// nothing), capped at half of the backend's free memory.
int64_t kv_blocks_default(const ModelConfig& config, const AttentionShape& shape, const SchedulerLimits& limits,
                          Backend& backend, int64_t stage_layers);

struct EngineStats {
  int64_t steps = 0;
  int64_t preemptions = 0;
  int64_t peak_blocks = 0;
  int64_t tokens_run = 0;  // tokens through the model (prefill, replay and decode)
  int64_t sessions_evicted = 0;    // idle kept sequences whose KV was dropped for room (device pool or host)
  int64_t reprefilled_tokens = 0;  // history tokens prefilled again because their KV was gone
};

class Engine {
 public:
  // sync: null on one process. tokenizer: needed (on the coordinator) only
  // for requests with stop strings. dropped: where kept sequences (sessions)
  // park what their lazy layers drop, for the next turn; null: dropped KV is
  // freed and every turn runs as --reidentify none.
  Engine(Model& model, Backend& backend, const EngineConfig& config, DistributedSync* sync = nullptr,
         const Tokenizer* tokenizer = nullptr, DroppedKvStore* dropped = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- the coordinator's API ----
  // Queues a request; throws slkv::Error (before anything runs) for an empty
  // prompt, one at or past the model's context, ids outside the vocabulary
  // or bad sampling parameters. Returns the sequence's id.
  SequenceId submit(EngineRequest request);
  // One step: admissions, one batched forward pass, sampling. Returns the
  // step's events in order (tokens, then finished sequences).
  std::vector<EngineEvent> step();
  // Whether any sequence is waiting or running.
  bool has_work() const;
  // Stops a waiting or running sequence (a Finished/Cancelled event follows)
  // and frees its KV, kept or not.
  void cancel(SequenceId sequence);
  // Feeds `tokens` to a kept, finished sequence and generates up to
  // max_new_tokens more (its sampling and stops as before): the sequence's
  // next turn. Its lazy layers are identified again on the new input (see
  // KvPolicy::begin_turn and --reidentify). A sequence whose KV was evicted
  // meanwhile is prefilled again from its whole history, as a from-scratch
  // run over it would be (EngineEvent::reprefilled_tokens counts it).
  // forced_tokens: this turn's teacher forcing (as EngineRequest::forced_tokens).
  void extend(SequenceId sequence, std::span<const int32_t> tokens, int64_t max_new_tokens,
              std::vector<int32_t> forced_tokens = {});
  // Drops the KV (and parked KV) of a kept, finished sequence but keeps its
  // history: its next turn re-prefills. What the engine does by itself, least
  // recently used first, when the pool has no room for a step.
  void evict(SequenceId sequence);
  // A new kept sequence that shares a kept, finished sequence's KV blocks
  // and history; extend it to continue. copy_blocks: the child gets its own
  // copies of the blocks instead (as if it had been prefilled itself).
  SequenceId fork(SequenceId sequence, bool copy_blocks = false);
  // Drops a kept sequence (or any other) and frees its KV.
  void release(SequenceId sequence);
  // Under mpirun: tells the followers to leave follow(). Called once at the end.
  void shutdown();

  // Called with the logits each generated token came from (on the
  // coordinator; they are then brought to the host).
  using LogitsCallback = std::function<void(SequenceId, std::span<const float>)>;
  void set_logits_callback(LogitsCallback callback) { on_logits_ = std::move(callback); }

  // ---- every other rank ----
  // Runs the coordinator's plans until shutdown().
  void follow();

  // ---- inspection ----
  const std::vector<int32_t>& tokens(SequenceId sequence) const;  // the history
  const KvCache& cache() const { return *cache_; }
  const KvPolicy& policy() const { return *policy_; }
  const EngineStats& stats() const { return stats_; }
  void reset_peak_blocks() { stats_.peak_blocks = cache_->pool().blocks_in_use(); }
  // Every rank: the decisions each finished sequence had, as this rank's policy held them.
  const std::map<SequenceId, LayerDecisions>& finished_decisions() const { return finished_decisions_; }
  const EngineConfig& config() const { return config_; }
  Model& model() { return model_; }
  int64_t running() const { return scheduler_->running(); }
  int64_t waiting() const { return scheduler_->waiting(); }

 private:
  bool coordinator() const { return !sync_ || sync_->is_coordinator(); }
  EngineSequence& sequence(SequenceId id);
  // Every rank: the plan's cache and policy changes, then whether its chunks
  // fit every rank's pool.
  bool apply_structure(const StepPlan& plan);
  // Every rank: the plan's forward pass; the coordinator also gets the logits
  // (null with host_logits_ filled when they are on the host).
  const float* run_pass(const StepPlan& plan);
  // Coordinator: draws the next token of each chunk that ends its input.
  void sample(const StepPlan& plan, const float* backend_logits, std::vector<EngineEvent>& events);
  // A generated id joins the history, or ends the sequence.
  void accept(EngineSequence& s, int32_t token, std::vector<EngineEvent>& events);
  void finish(EngineSequence& s, FinishReason reason, std::vector<EngineEvent>& events, std::string error = "",
              std::string stop_string = "");
  // Every rank: reports, then drops the sequences that finished this step and are not kept.
  void settle_finished(std::vector<EngineEvent>& events);
  void remove_everywhere(SequenceId id);
  // The sequence's next admission prefills its whole history (to the end of
  // this turn's input) as a new prompt: its KV or parked KV is gone.
  void start_from_scratch(EngineSequence& s);
  // The least recently used idle session whose KV the cache holds.
  std::optional<SequenceId> idle_session_to_evict() const;
  // Every rank: the sessions whose parked KV some rank evicted (host memory
  // ran out) are marked lost everywhere, so every shard does the same.
  void settle_lost_sessions();

  Model& model_;
  Backend& backend_;
  EngineConfig config_;
  DistributedSync* sync_;
  const Tokenizer* tokenizer_;
  DroppedKvStore* dropped_;
  IndexRange layers_;  // the layers this rank's stage caches
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<KvPolicy> policy_;
  std::unique_ptr<Scheduler> scheduler_;
  std::map<SequenceId, EngineSequence> sequences_;  // coordinator only
  SequenceId next_id_ = 0;
  StepPlan pending_;                  // removals and forks asked for between steps
  std::vector<EngineEvent> pending_events_;  // cancellations
  std::vector<std::pair<SequenceId, bool>> finished_;  // this step's (id, keep)
  EngineStats stats_;
  std::map<SequenceId, LayerDecisions> finished_decisions_;
  LogitsCallback on_logits_;
  // Scratch of a pass.
  std::vector<SequenceChunk> chunks_;
  std::vector<float> host_logits_, part_logits_;
  std::vector<TokenDraw> draws_;
  std::vector<int32_t> sampled_;
  BackendBuffer staged_logits_;
};

}  // namespace slkv
