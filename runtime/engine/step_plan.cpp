#include "runtime/engine/step_plan.h"

#include <bit>

#include "core/error.h"

namespace slkv {
namespace {

// Appends to / reads from the flat word vector in one order.
class Writer {
 public:
  explicit Writer(std::vector<int64_t>& words) : words_(words) {}
  void put(int64_t value) { words_.push_back(value); }
  void put(double value) { words_.push_back(std::bit_cast<int64_t>(value)); }
  void put(const std::vector<SequenceId>& ids) {
    put(static_cast<int64_t>(ids.size()));
    for (SequenceId id : ids) put(id);
  }
  void put(const KvPolicyConfig& c) {
    put(static_cast<int64_t>(c.kind));
    put(c.threshold);
    put(static_cast<int64_t>(c.detect));
    put(c.sink);
    put(c.recent);
    put(c.obs_window);
    put(static_cast<int64_t>(c.growth));
    put(c.snapkv_budget);
    put(c.snapkv_pool);
    put(static_cast<int64_t>(c.reidentify));
    put(static_cast<int64_t>(c.fixed_lazy_layers.size()));
    for (bool lazy : c.fixed_lazy_layers) put(int64_t{lazy});
  }

 private:
  std::vector<int64_t>& words_;
};

class Reader {
 public:
  explicit Reader(const std::vector<int64_t>& words) : words_(words) {}
  int64_t word() {
    SLKV_CHECK(at_ < words_.size(), "truncated step plan");
    return words_[at_++];
  }
  double real() { return std::bit_cast<double>(word()); }
  std::vector<SequenceId> ids() {
    std::vector<SequenceId> out(static_cast<size_t>(word()));
    for (SequenceId& id : out) id = word();
    return out;
  }
  KvPolicyConfig policy() {
    KvPolicyConfig c;
    c.kind = static_cast<KvPolicyKind>(word());
    c.threshold = real();
    c.detect = static_cast<LazyDetect>(word());
    c.sink = word();
    c.recent = word();
    c.obs_window = word();
    c.growth = static_cast<WindowGrowth>(word());
    c.snapkv_budget = word();
    c.snapkv_pool = word();
    c.reidentify = static_cast<Reidentify>(word());
    c.fixed_lazy_layers.resize(static_cast<size_t>(word()));
    for (size_t i = 0; i < c.fixed_lazy_layers.size(); ++i) c.fixed_lazy_layers[i] = word() != 0;
    return c;
  }
  bool done() const { return at_ == words_.size(); }

 private:
  const std::vector<int64_t>& words_;
  size_t at_ = 0;
};

}  // namespace

std::vector<int64_t> StepPlan::encode() const {
  std::vector<int64_t> words;
  Writer out(words);
  out.put(int64_t{stop});
  out.put(removed);
  out.put(preempted);
  out.put(evicted);
  out.put(static_cast<int64_t>(forks.size()));
  for (const PlannedFork& fork : forks) {
    out.put(fork.parent);
    out.put(fork.child);
    out.put(int64_t{fork.copy_blocks});
  }
  out.put(static_cast<int64_t>(added.size()));
  for (const PlannedSequence& s : added) {
    out.put(s.sequence);
    out.put(s.prompt_tokens);
    out.put(int64_t{s.park});
    out.put(s.policy);
  }
  out.put(rebuilt);
  out.put(static_cast<int64_t>(turns.size()));
  for (const PlannedTurn& turn : turns) {
    out.put(turn.sequence);
    out.put(turn.first);
    out.put(turn.end);
    out.put(int64_t{turn.restore});
  }
  out.put(static_cast<int64_t>(chunks.size()));
  for (const PlannedChunk& chunk : chunks) {
    out.put(chunk.sequence);
    out.put(chunk.first_position);
    out.put(static_cast<int64_t>(chunk.tokens.size()));
    for (int32_t token : chunk.tokens) out.put(int64_t{token});
  }
  return words;
}

StepPlan StepPlan::decode(const std::vector<int64_t>& words) {
  Reader in(words);
  StepPlan plan;
  plan.stop = in.word() != 0;
  plan.removed = in.ids();
  plan.preempted = in.ids();
  plan.evicted = in.ids();
  plan.forks.resize(static_cast<size_t>(in.word()));
  for (PlannedFork& fork : plan.forks) {
    fork.parent = in.word();
    fork.child = in.word();
    fork.copy_blocks = in.word() != 0;
  }
  plan.added.resize(static_cast<size_t>(in.word()));
  for (PlannedSequence& s : plan.added) {
    s.sequence = in.word();
    s.prompt_tokens = in.word();
    s.park = in.word() != 0;
    s.policy = in.policy();
  }
  plan.rebuilt = in.ids();
  plan.turns.resize(static_cast<size_t>(in.word()));
  for (PlannedTurn& turn : plan.turns) {
    turn.sequence = in.word();
    turn.first = in.word();
    turn.end = in.word();
    turn.restore = in.word() != 0;
  }
  plan.chunks.resize(static_cast<size_t>(in.word()));
  for (PlannedChunk& chunk : plan.chunks) {
    chunk.sequence = in.word();
    chunk.first_position = in.word();
    chunk.tokens.resize(static_cast<size_t>(in.word()));
    for (int32_t& token : chunk.tokens) token = static_cast<int32_t>(in.word());
  }
  SLKV_CHECK(in.done(), "step plan has trailing words");
  return plan;
}

}  // namespace slkv
