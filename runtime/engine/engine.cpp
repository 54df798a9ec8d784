#include "runtime/engine/engine.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace slkv {
namespace {

double seconds_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

std::string finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "?";
}

int64_t kv_blocks_default(const ModelConfig& config, const AttentionShape& shape, const SchedulerLimits& limits,
                          Backend& backend, int64_t stage_layers) {
  const int64_t block = 16;
  const int64_t per_sequence = stage_layers * ((config.max_position_embeddings + block - 1) / block + 2);
  const int64_t wanted = limits.max_batch * per_sequence;
  const int64_t block_bytes = 2 * block * shape.n_kv_heads * shape.head_dim * static_cast<int64_t>(sizeof(float));
  const int64_t affordable = backend.free_memory_bytes() / 2 / block_bytes;
  // At least one sequence of full context, so a lone long prompt can run.
  return std::max<int64_t>(1, std::max(per_sequence, std::min(wanted, affordable)));
}

Engine::Engine(Model& model, Backend& backend, const EngineConfig& config, DistributedSync* sync,
               const Tokenizer* tokenizer, DroppedKvStore* dropped)
    : model_(model), backend_(backend), config_(config), sync_(sync), tokenizer_(tokenizer), dropped_(dropped) {
  config_.kv_policy.validate();
  if (config_.limits.max_batch < 1)
    throw Error("--max-batch must be >= 1, got " + std::to_string(config_.limits.max_batch));
  if (config_.limits.max_batch_tokens < 1)
    throw Error("--max-batch-tokens must be >= 1, got " + std::to_string(config_.limits.max_batch_tokens));
  if (config_.micro_batches < 1)
    throw Error("--micro-batches must be >= 1, got " + std::to_string(config_.micro_batches));
  const ModelConfig& c = model.config();
  layers_ = model.shard().layers;
  if (layers_.end < 0) layers_ = IndexRange{0, c.num_layers};
  const AttentionShape shape = model.attention_shape();
  if (config_.kv_blocks == 0)
    config_.kv_blocks = kv_blocks_default(c, shape, config_.limits, backend, layers_.size());
  if (config_.kv_blocks < 1) throw Error("--kv-blocks must be >= 1, got " + std::to_string(config_.kv_blocks));
  KvCacheGeometry geometry;
  geometry.num_layers = c.num_layers;
  geometry.n_kv_heads = shape.n_kv_heads;  // this rank's KV heads
  geometry.head_dim = c.head_dim;
  geometry.max_blocks = config_.kv_blocks;
  cache_ = std::make_unique<KvCache>(geometry, backend);
  cache_->set_dropped_store(dropped_);
  policy_ = std::make_unique<KvPolicy>(c.num_layers, backend, sync);
  scheduler_ = std::make_unique<Scheduler>(config_.limits, *cache_, layers_);
}

Engine::~Engine() = default;

EngineSequence& Engine::sequence(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) throw Error("unknown sequence " + std::to_string(id));
  return it->second;
}

const std::vector<int32_t>& Engine::tokens(SequenceId id) const {
  return const_cast<Engine*>(this)->sequence(id).tokens;
}

bool Engine::has_work() const {
  return !scheduler_->idle() || !pending_.empty() || !pending_events_.empty() || !finished_.empty();
}

SequenceId Engine::submit(EngineRequest request) {
  SLKV_CHECK(coordinator(), "requests go to the coordinator");
  const int64_t context = model_.config().max_position_embeddings;
  const int64_t vocab = model_.config().vocab_size;
  const int64_t n = static_cast<int64_t>(request.prompt.size());
  if (n == 0) throw Error("the prompt is empty (and the tokenizer adds no BOS)");
  if (n >= context)
    throw Error("the prompt has " + std::to_string(n) + " tokens, the model's context (max_position_embeddings) is " +
                std::to_string(context) + ": nothing is left to generate");
  for (int32_t id : request.prompt)
    if (id < 0 || id >= vocab) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
  if (request.max_new_tokens < 0)
    throw Error("max new tokens must be >= 0, got " + std::to_string(request.max_new_tokens));
  request.sampling.validate();
  if (!request.stop_strings.empty() && !tokenizer_)
    throw Error("stop strings need the engine's tokenizer");
  const KvPolicyConfig policy = request.kv_policy.value_or(config_.kv_policy);
  policy.validate();

  const SequenceId id = next_id_++;
  EngineSequence s(id, std::move(request), policy);
  s.tokens = s.request.prompt;
  s.prompt_tokens = n;
  // Where the policy trims: the prompt's end, or one later for decode detection.
  const bool waits = policy.uses_lazy_layers() && policy.detect == LazyDetect::Decode;
  s.trim_position = n + (waits ? 1 : 0);
  s.turn_start = n;
  s.turn_max_new = s.request.max_new_tokens;
  // A session parks what its lazy layers drop, so its next turn can restore it.
  s.parks = s.request.keep && dropped_ && policy.uses_lazy_layers() && policy.reidentify != Reidentify::None;
  s.queued_at = std::chrono::steady_clock::now();
  auto [it, inserted] = sequences_.emplace(id, std::move(s));
  EngineSequence& added = it->second;
  if (added.turn_max_new == 0 && !added.request.keep) {
    // Nothing to generate and nothing to keep: done without running.
    finish(added, FinishReason::Length, pending_events_);
    return id;
  }
  scheduler_->enqueue(id);
  return id;
}

void Engine::cancel(SequenceId id) {
  EngineSequence& s = sequence(id);
  if (s.state == EngineSequence::State::Idle) {
    release(id);
    return;
  }
  scheduler_->drop(id);
  s.request.keep = false;
  finish(s, FinishReason::Cancelled, pending_events_);
}

void Engine::release(SequenceId id) {
  EngineSequence& s = sequence(id);
  scheduler_->drop(id);
  if (s.in_cache || s.preempted) pending_.removed.push_back(id);
  sequences_.erase(id);
}

void Engine::extend(SequenceId id, std::span<const int32_t> new_tokens, int64_t max_new_tokens,
                    std::vector<int32_t> forced_tokens) {
  EngineSequence& s = sequence(id);
  if (s.state != EngineSequence::State::Idle)
    throw Error("sequence " + std::to_string(id) + " is not a finished, kept sequence");
  const int64_t vocab = model_.config().vocab_size;
  for (int32_t token : new_tokens)
    if (token < 0 || token >= vocab) throw Error("token id " + std::to_string(token) + " is outside the vocabulary");
  if (max_new_tokens < 0) throw Error("max new tokens must be >= 0, got " + std::to_string(max_new_tokens));
  const int64_t total = static_cast<int64_t>(s.tokens.size() + new_tokens.size());
  if (total >= model_.config().max_position_embeddings)
    throw Error("the sequence would hold " + std::to_string(total) + " tokens, the model's context is " +
                std::to_string(model_.config().max_position_embeddings));
  if (s.pending() + static_cast<int64_t>(new_tokens.size()) == 0)
    throw Error("sequence " + std::to_string(id) + " ended on a stop token: extend it with at least one token");
  for (int32_t token : forced_tokens)
    if (token < 0 || token >= vocab) throw Error("forced token id " + std::to_string(token) + " is outside the vocabulary");
  s.request.forced_tokens = std::move(forced_tokens);
  s.tokens.insert(s.tokens.end(), new_tokens.begin(), new_tokens.end());
  s.turn_start = static_cast<int64_t>(s.tokens.size());
  s.turns += 1;
  s.boundaries.clear();  // the last turn's; this one's are recorded as it runs
  const bool waits = s.policy.uses_lazy_layers() && s.policy.detect == LazyDetect::Decode;
  s.trim_position = s.turn_start + (waits ? 1 : 0);
  if (s.in_cache && !s.lost) {
    s.new_turn = true;
  } else {
    if (s.in_cache) {  // its parked KV is gone: its windowed layers cannot come back
      pending_.evicted.push_back(id);
      s.in_cache = false;
    }
    start_from_scratch(s);
  }
  s.turn_generated = 0;
  s.turn_max_new = max_new_tokens;
  s.has_first_token = false;
  s.queued_at = std::chrono::steady_clock::now();
  s.state = EngineSequence::State::Waiting;
  scheduler_->enqueue(id);
}

SequenceId Engine::fork(SequenceId parent_id, bool copy_blocks) {
  EngineSequence& parent = sequence(parent_id);
  if (parent.state != EngineSequence::State::Idle)
    throw Error("sequence " + std::to_string(parent_id) + " is not a finished, kept sequence");
  if (copy_blocks && parent.in_cache) {
    int64_t blocks = 0;
    for (int64_t layer = layers_.begin; layer < layers_.end; ++layer) blocks += cache_->blocks_held(parent_id, layer);
    if (blocks > cache_->pool().free_blocks())
      throw Error("the KV pool has " + std::to_string(cache_->pool().free_blocks()) + " free blocks, a copy of sequence " +
                  std::to_string(parent_id) + " needs " + std::to_string(blocks));
  }
  const SequenceId id = next_id_++;
  EngineSequence child = parent;
  child.id = id;
  child.request.keep = true;
  sequences_.emplace(id, std::move(child));
  if (parent.in_cache) pending_.forks.push_back(PlannedFork{parent_id, id, copy_blocks});
  return id;
}

void Engine::evict(SequenceId id) {
  EngineSequence& s = sequence(id);
  if (s.state != EngineSequence::State::Idle)
    throw Error("sequence " + std::to_string(id) + " is not a finished, kept sequence");
  if (!s.in_cache) return;
  pending_.evicted.push_back(id);
  s.in_cache = false;
  ++stats_.sessions_evicted;
}

void Engine::start_from_scratch(EngineSequence& s) {
  // Everything computed before is computed again.
  s.reprefilled_tokens += s.computed;
  stats_.reprefilled_tokens += s.computed;
  s.computed = 0;
  s.prompt_tokens = s.turn_start;
  s.preempted = false;
  s.lost = false;
  s.new_turn = false;
}

std::optional<SequenceId> Engine::idle_session_to_evict() const {
  std::optional<SequenceId> oldest;
  for (const auto& [id, s] : sequences_)
    if (s.state == EngineSequence::State::Idle && s.in_cache &&
        (!oldest || s.idle_since < sequences_.at(*oldest).idle_since))
      oldest = id;
  return oldest;
}

void Engine::shutdown() {
  if (!sync_ || !coordinator()) return;
  StepPlan stop;
  stop.stop = true;
  std::vector<int64_t> words = stop.encode();
  sync_->broadcast_words(words);
}

bool Engine::apply_structure(const StepPlan& plan) {
  for (SequenceId id : plan.removed) {
    if (cache_->has_sequence(id)) cache_->remove_sequence(id);
    policy_->remove_sequence(id);
    if (dropped_) dropped_->remove_sequence(id);
  }
  for (SequenceId id : plan.preempted) {
    cache_->remove_sequence(id);
    ++stats_.preemptions;
  }
  for (SequenceId id : plan.evicted) {
    if (cache_->has_sequence(id)) cache_->remove_sequence(id);
    policy_->remove_sequence(id);
    if (dropped_) dropped_->remove_sequence(id);
  }
  for (const PlannedFork& fork : plan.forks) {
    cache_->fork_sequence(fork.parent, fork.child, fork.copy_blocks);
    policy_->fork_sequence(fork.parent, fork.child);
    if (dropped_) dropped_->fork_sequence(fork.parent, fork.child);
  }
  for (const PlannedSequence& s : plan.added) {
    cache_->add_sequence(s.sequence);
    policy_->add_sequence(s.sequence, s.policy, s.prompt_tokens);
    if (dropped_) {  // a clean slate: a session prefilled again parks afresh
      dropped_->remove_sequence(s.sequence);
      if (s.park) dropped_->add_sequence(s.sequence);
    }
  }
  for (SequenceId id : plan.rebuilt) {
    cache_->add_sequence(id);
    policy_->restart_observation(id);
  }
  for (const PlannedTurn& turn : plan.turns) {
    policy_->begin_turn(turn.sequence, turn.first, turn.end);
    if (dropped_) dropped_->touch(turn.sequence);
  }
  int64_t need = 0;
  for (const PlannedChunk& chunk : plan.chunks)
    need += cache_->blocks_to_append(chunk.sequence, layers_, static_cast<int64_t>(chunk.tokens.size()));
  for (const PlannedTurn& turn : plan.turns)
    if (turn.restore)
      for (int64_t layer = layers_.begin; layer < layers_.end; ++layer)
        need += cache_->blocks_to_restore(turn.sequence, layer);
  int64_t deficit = need - cache_->pool().free_blocks();
  if (sync_) deficit = sync_->max_over_ranks(deficit);
  if (deficit > 0) return false;
  // Exact re-identification: the turn's input attends to the whole history,
  // so the windowed layers get their parked KV back, each just before the
  // pass reaches it (KvCache::restore_layer).
  for (const PlannedTurn& turn : plan.turns)
    if (turn.restore)
      for (int64_t layer = layers_.begin; layer < layers_.end; ++layer)
        if (cache_->can_restore(turn.sequence, layer)) cache_->restore_layer(turn.sequence, layer);
  return true;
}

const float* Engine::run_pass(const StepPlan& plan) {
  if (sync_) sync_->before_step(stats_.steps);
  chunks_.clear();
  for (const PlannedChunk& chunk : plan.chunks)
    chunks_.push_back(SequenceChunk{chunk.sequence, chunk.tokens, chunk.first_position});
  const int64_t parts = std::min<int64_t>(config_.micro_batches, static_cast<int64_t>(chunks_.size()));
  // Tokens are drawn where the logits are (on a GPU only ids reach the host)
  // unless pipeline stages or a logits callback need them on the host.
  const bool in_backend = model_.shard().pp == 1 && parts <= 1 && !on_logits_;
  const float* logits = nullptr;
  if (in_backend) {
    logits = model_.forward_in_backend(chunks_, *cache_, backend_, LogitsFor::LastToken, policy_.get());
  } else if (parts <= 1) {
    model_.forward(chunks_, *cache_, backend_, LogitsFor::LastToken, host_logits_, policy_.get());
  } else {
    // Micro-batches: under pipeline parallelism a stage sends part m on and
    // starts m + 1 while the next stage runs m, so the stages overlap.
    host_logits_.clear();
    const size_t n = chunks_.size();
    for (int64_t part = 0; part < parts; ++part) {
      const size_t begin = n * part / parts, end = n * (part + 1) / parts;
      model_.forward(std::span(chunks_).subspan(begin, end - begin), *cache_, backend_, LogitsFor::LastToken,
                     part_logits_, policy_.get());
      host_logits_.insert(host_logits_.end(), part_logits_.begin(), part_logits_.end());
    }
  }
  cache_->complete_restores();  // a restore no layer of the pass reached (none in practice)
  policy_->after_pass(*cache_, chunks_);
  if (!in_backend && sync_)
    sync_->logits_to_coordinator(host_logits_, static_cast<int64_t>(chunks_.size()), model_.config().vocab_size);
  stats_.steps += 1;
  for (const SequenceChunk& chunk : chunks_) stats_.tokens_run += static_cast<int64_t>(chunk.tokens.size());
  stats_.peak_blocks = std::max(stats_.peak_blocks, cache_->pool().blocks_in_use());
  return logits;
}

std::vector<EngineEvent> Engine::step() {
  SLKV_CHECK(coordinator(), "only the coordinator steps; the other ranks follow()");
  std::vector<EngineEvent> events = std::move(pending_events_);
  pending_events_.clear();
  StepPlan plan = std::move(pending_);
  pending_ = StepPlan{};
  scheduler_->plan_step(sequences_, plan);
  if (plan.empty() && finished_.empty()) return events;

  // Until the chunks fit every rank's pool: preempt, or fail what cannot fit.
  while (true) {
    if (sync_) {
      std::vector<int64_t> words = plan.encode();
      sync_->broadcast_words(words);
    }
    if (apply_structure(plan)) break;
    StepPlan retry;
    if (std::optional<SequenceId> idle = idle_session_to_evict()) {
      // Idle sessions make room first (least recently used); they re-prefill on their next turn.
      evict(*idle);
      retry.evicted = std::move(pending_.evicted);
      pending_.evicted.clear();
      retry.chunks = std::move(plan.chunks);
      retry.turns = std::move(plan.turns);
    } else if (std::optional<SequenceId> victim = scheduler_->victim(sequences_)) {
      EngineSequence& preempted = sequence(*victim);
      scheduler_->preempt(preempted);
      // A later turn is rebuilt from its whole history (its earlier trims and restores are not replayed).
      if (preempted.turns > 1) start_from_scratch(preempted);
      retry.preempted.push_back(*victim);
      for (PlannedChunk& chunk : plan.chunks)
        if (chunk.sequence != *victim) retry.chunks.push_back(std::move(chunk));
      for (PlannedTurn& turn : plan.turns)
        if (turn.sequence != *victim) retry.turns.push_back(turn);
    } else {
      // One sequence runs and its chunk alone does not fit: the pool is too
      // small for it (or kept sequences hold the rest).
      for (PlannedChunk& chunk : plan.chunks) {
        EngineSequence& s = sequence(chunk.sequence);
        scheduler_->drop(s.id);
        s.request.keep = false;
        finish(s, FinishReason::Error, events,
               "the KV pool (" + std::to_string(cache_->pool().max_blocks()) + " blocks of " +
                   std::to_string(cache_->geometry().block_size) + " tokens, " +
                   std::to_string(cache_->pool().blocks_in_use()) +
                   " in use by kept sequences) cannot hold this request: raise --kv-blocks");
      }
    }
    plan = std::move(retry);
  }
  if (!plan.chunks.empty()) {
    const float* logits = run_pass(plan);
    sample(plan, logits, events);
  }
  settle_finished(events);
  settle_lost_sessions();
  return events;
}

void Engine::follow() {
  SLKV_CHECK(sync_ && !coordinator(), "follow() runs on the ranks that are not the coordinator");
  while (true) {
    std::vector<int64_t> words;
    sync_->broadcast_words(words);
    const StepPlan plan = StepPlan::decode(words);
    if (plan.stop) return;
    if (!apply_structure(plan)) continue;  // the coordinator sends a smaller plan next
    if (!plan.chunks.empty()) run_pass(plan);
    std::vector<EngineEvent> none;
    settle_finished(none);
    settle_lost_sessions();
  }
}

void Engine::sample(const StepPlan& plan, const float* backend_logits, std::vector<EngineEvent>& events) {
  const int64_t vocab = model_.config().vocab_size;
  const int64_t rows = static_cast<int64_t>(plan.chunks.size());
  // The chunks whose sequence has now fed all its history draw a token.
  std::vector<EngineSequence*> drawing(rows, nullptr);
  draws_.assign(rows, TokenDraw{});
  for (int64_t row = 0; row < rows; ++row) {
    EngineSequence& s = sequence(plan.chunks[row].sequence);
    s.computed += static_cast<int64_t>(plan.chunks[row].tokens.size());
    if (s.computed >= s.trim_position && (s.boundaries.empty() || s.boundaries.back() < s.computed))
      s.boundaries.push_back(s.computed);
    if (s.pending() > 0) continue;  // more of its input to feed first
    if (s.turn_generated >= s.turn_max_new) {
      finish(s, FinishReason::Length, events);  // keep with nothing (more) to generate
      continue;
    }
    drawing[row] = &s;
    if (s.turn_generated >= static_cast<int64_t>(s.request.forced_tokens.size())) draws_[row] = s.sampler.next_draw();
  }
  sampled_.assign(rows, 0);
  if (backend_logits) {
    backend_.sample_tokens(backend_logits, rows, vocab, draws_, sampled_.data());
  } else {
    SLKV_CHECK(static_cast<int64_t>(host_logits_.size()) == rows * vocab, "one logits row per chunk");
    if (on_logits_)
      for (int64_t row = 0; row < rows; ++row)
        if (drawing[row]) on_logits_(drawing[row]->id, std::span<const float>(host_logits_).subspan(row * vocab, vocab));
    const float* logits = host_logits_.data();
    const int64_t bytes = rows * vocab * static_cast<int64_t>(sizeof(float));
    if (!backend_.uses_host_memory()) {  // the draw runs where the backend's memory is
      staged_logits_.reserve(backend_, bytes);
      backend_.copy_from_host(staged_logits_.data(), host_logits_.data(), bytes);
      logits = staged_logits_.floats();
    }
    backend_.sample_tokens(logits, rows, vocab, draws_, sampled_.data());
  }
  for (int64_t row = 0; row < rows; ++row) {
    EngineSequence* s = drawing[row];
    if (!s) continue;
    const bool forced = s->turn_generated < static_cast<int64_t>(s->request.forced_tokens.size());
    accept(*s, forced ? s->request.forced_tokens[s->turn_generated] : sampled_[row], events);
  }
}

void Engine::accept(EngineSequence& s, int32_t token, std::vector<EngineEvent>& events) {
  if (!s.has_first_token) {
    s.has_first_token = true;
    s.first_token_at = std::chrono::steady_clock::now();
  }
  const std::vector<int32_t>& stops = s.request.stop_ids;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    finish(s, FinishReason::Stop, events);
    return;
  }
  s.tokens.push_back(token);
  s.turn_generated += 1;
  EngineEvent event;
  event.kind = EngineEvent::Kind::Token;
  event.sequence = s.id;
  event.token = token;
  events.push_back(event);
  if (!s.request.stop_strings.empty()) {
    // The turn's text so far: a stop string may span several tokens.
    const std::vector<int32_t> turn(s.tokens.begin() + s.turn_start, s.tokens.end());
    const std::string text = tokenizer_->decode(turn, /*skip_special_tokens=*/true);
    for (const std::string& stop : s.request.stop_strings)
      if (!stop.empty() && text.find(stop) != std::string::npos) {
        finish(s, FinishReason::Stop, events, "", stop);
        return;
      }
  }
  if (s.turn_generated >= s.turn_max_new ||
      static_cast<int64_t>(s.tokens.size()) >= model_.config().max_position_embeddings)
    finish(s, FinishReason::Length, events);
}

void Engine::finish(EngineSequence& s, FinishReason reason, std::vector<EngineEvent>& events, std::string error,
                    std::string stop_string) {
  const auto now = std::chrono::steady_clock::now();
  EngineEvent event;
  event.kind = EngineEvent::Kind::Finished;
  event.sequence = s.id;
  event.reason = reason;
  event.error = std::move(error);
  event.stop_string = std::move(stop_string);
  if (s.state == EngineSequence::State::Running) {
    event.queue_seconds = seconds_between(s.queued_at, s.admitted_at);
    event.prefill_seconds = seconds_between(s.admitted_at, s.has_first_token ? s.first_token_at : now);
    event.decode_seconds = s.has_first_token ? seconds_between(s.first_token_at, now) : 0.0;
  }
  event.reprefilled_tokens = s.reprefilled_tokens;
  scheduler_->drop(s.id);
  s.state = EngineSequence::State::Idle;
  s.idle_since = now;
  events.push_back(std::move(event));
  const bool keep = s.request.keep && reason != FinishReason::Error && reason != FinishReason::Cancelled;
  if (s.in_cache || s.preempted) {
    // Its KV report and removal happen on every rank in settle_finished().
    finished_.emplace_back(s.id, keep);
  } else if (!keep) {
    sequences_.erase(s.id);  // it never ran: no rank holds anything of it
  }
}

void Engine::settle_finished(std::vector<EngineEvent>& events) {
  if (sync_) {  // the coordinator tells the other ranks which sequences finished
    std::vector<int64_t> words;
    for (const auto& [id, keep] : finished_) {
      words.push_back(id);
      words.push_back(keep ? 1 : 0);
    }
    sync_->broadcast_words(words);
    finished_.clear();
    for (size_t i = 0; i + 1 < words.size(); i += 2) finished_.emplace_back(words[i], words[i + 1] != 0);
  }
  for (const auto& [id, keep] : finished_) {
    KvReport report;
    finished_decisions_[id] = policy_->decisions(id);
    if (cache_->has_sequence(id)) {
      report = make_kv_report(*cache_, id, *policy_);
      if (sync_) sync_->merge_kv_report(report);
    }
    if (coordinator())
      for (EngineEvent& event : events)
        if (event.kind == EngineEvent::Kind::Finished && event.sequence == id) event.kv = report;
    if (!keep) remove_everywhere(id);
  }
  finished_.clear();
}

void Engine::settle_lost_sessions() {
  if (!dropped_) return;
  std::vector<SequenceId> lost = dropped_->take_evicted();
  if (sync_) {
    // The union over the ranks, largest id first, one all-reduce per id (evictions are rare).
    std::vector<SequenceId> all;
    int64_t below = std::numeric_limits<int64_t>::max();
    while (true) {
      int64_t mine = -1;
      for (SequenceId id : lost)
        if (id < below) mine = std::max(mine, id);
      const int64_t next = sync_->max_over_ranks(mine);
      if (next < 0) break;
      all.push_back(next);
      below = next;
    }
    lost = std::move(all);
  }
  for (SequenceId id : lost) {
    dropped_->remove_sequence(id);  // what other ranks still hold of it is useless now
    if (!coordinator()) continue;
    auto it = sequences_.find(id);
    if (it == sequences_.end()) continue;
    it->second.lost = true;
    ++stats_.sessions_evicted;
  }
}

void Engine::remove_everywhere(SequenceId id) {
  if (cache_->has_sequence(id)) cache_->remove_sequence(id);
  policy_->remove_sequence(id);
  if (coordinator()) sequences_.erase(id);
}

}  // namespace slkv
