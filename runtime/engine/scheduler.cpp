#include "runtime/engine/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace slkv {

void Scheduler::enqueue(SequenceId id, bool front) {
  if (front)
    waiting_.push_front(id);
  else
    waiting_.push_back(id);
}

void Scheduler::drop(SequenceId id) {
  std::erase(waiting_, id);
  std::erase(running_, id);
}

PlannedChunk Scheduler::next_chunk(const EngineSequence& s, int64_t budget_left) const {
  PlannedChunk chunk{s.id, s.computed, {}};
  const int64_t pending = s.pending();
  int64_t n = 0;
  if (s.computed < s.trim_position) {
    // Before the trim every layer is full: any chunking gives the same KV,
    // but a chunk stops at the trim position so retention applies there.
    n = std::min({pending, s.trim_position - s.computed, budget_left});
  } else {
    // After it, a rebuild replays the chunks that ran (windowed layers roll
    // per chunk); new input is chunked by the budget.
    auto next = std::upper_bound(s.boundaries.begin(), s.boundaries.end(), s.computed);
    n = next != s.boundaries.end() ? *next - s.computed : std::min(pending, budget_left);
  }
  if (n > 0) chunk.tokens.assign(s.tokens.begin() + s.computed, s.tokens.begin() + s.computed + n);
  return chunk;
}

int64_t Scheduler::blocks_for_input(const EngineSequence& s) const {
  const int64_t block = cache_.geometry().block_size;
  const int64_t tokens = static_cast<int64_t>(s.tokens.size()) + 1;  // + the first generated id
  return layers_.size() * ((tokens + block - 1) / block + 1);
}

void Scheduler::plan_step(std::map<SequenceId, EngineSequence>& sequences, StepPlan& plan) {
  int64_t budget = limits_.max_batch_tokens;
  // Decode tokens first (one each, so generation never stalls), then the
  // prefill chunks of the others in admission order.
  std::vector<SequenceId> order;
  for (SequenceId id : running_)
    if (sequences.at(id).pending() == 1) order.push_back(id);
  for (SequenceId id : running_)
    if (sequences.at(id).pending() > 1) order.push_back(id);
  for (SequenceId id : order) {
    if (budget <= 0) break;
    PlannedChunk chunk = next_chunk(sequences.at(id), budget);
    if (chunk.tokens.empty()) continue;
    budget -= static_cast<int64_t>(chunk.tokens.size());
    plan.chunks.push_back(std::move(chunk));
  }

  // Admissions: first come, first served while the pool, the cap and the budget allow.
  int64_t reserved = 0;  // blocks the running prefills still need
  for (SequenceId id : running_) {
    const EngineSequence& s = sequences.at(id);
    const int64_t block = cache_.geometry().block_size;
    if (s.pending() > 1) reserved += layers_.size() * ((s.pending() + block - 1) / block);
  }
  while (!waiting_.empty() && budget > 0 && static_cast<int64_t>(running_.size()) < limits_.max_batch) {
    EngineSequence& s = sequences.at(waiting_.front());
    const int64_t need = s.in_cache ? 0 : blocks_for_input(s);
    if (!running_.empty() && need > cache_.pool().free_blocks() - reserved) break;  // wait for room
    waiting_.pop_front();
    if (!s.in_cache) {
      if (s.preempted)
        plan.rebuilt.push_back(s.id);
      else
        plan.added.push_back(PlannedSequence{s.id, s.prompt_tokens, s.parks, s.policy});
      s.in_cache = true;
      s.computed = 0;
    } else if (s.new_turn) {
      const bool restore = s.parks && s.policy.reidentify == Reidentify::Exact;
      plan.turns.push_back(PlannedTurn{s.id, s.computed, s.turn_start, restore});
    }
    s.new_turn = false;
    s.state = EngineSequence::State::Running;
    s.admitted_order = ++admissions_;
    s.admitted_at = std::chrono::steady_clock::now();
    running_.push_back(s.id);
    reserved += need;
    PlannedChunk chunk = next_chunk(s, budget);
    if (chunk.tokens.empty()) continue;
    budget -= static_cast<int64_t>(chunk.tokens.size());
    plan.chunks.push_back(std::move(chunk));
  }
}

std::optional<SequenceId> Scheduler::victim(const std::map<SequenceId, EngineSequence>& sequences) const {
  if (running_.size() < 2) return std::nullopt;
  SequenceId newest = running_.front();
  for (SequenceId id : running_)
    if (sequences.at(id).admitted_order > sequences.at(newest).admitted_order) newest = id;
  return newest;
}

void Scheduler::preempt(EngineSequence& s) {
  std::erase(running_, s.id);
  s.state = EngineSequence::State::Waiting;
  s.in_cache = false;
  s.preempted = true;
  s.computed = 0;
  waiting_.push_front(s.id);
}

}  // namespace slkv
