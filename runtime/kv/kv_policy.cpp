#include "runtime/kv/kv_policy.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace slkv {

KvPolicy::KvPolicy(int64_t num_layers, Backend& backend, DistributedSync* sync)
    : num_layers_(num_layers), backend_(backend), sync_(sync) {}

namespace {

IndexRange intersect(IndexRange a, IndexRange b) {
  const IndexRange r{std::max(a.begin, b.begin), std::min(a.end, b.end)};
  return r.end > r.begin ? r : IndexRange{0, 0};
}

}  // namespace

void KvPolicy::add_sequence(SequenceId sequence, const KvPolicyConfig& config, int64_t prompt_tokens) {
  config.validate();
  SequenceState state;
  state.config = config;
  state.prompt_tokens = prompt_tokens;
  state.window_mass.assign(num_layers_, 0.0);
  state.observed.assign(num_layers_, 0);
  state.key_mass.resize(num_layers_);
  state.key_mass_keys.assign(num_layers_, 0);
  state.decisions.lazy.assign(num_layers_, false);
  sequences_[sequence] = std::move(state);
}

void KvPolicy::remove_sequence(SequenceId sequence) { sequences_.erase(sequence); }

void KvPolicy::fork_sequence(SequenceId parent, SequenceId child) { sequences_[child] = state_of(parent); }

void KvPolicy::restart_observation(SequenceId sequence) {
  SequenceState& state = state_of(sequence);
  for (auto& masses : state.key_mass) masses.clear();
  state.key_mass_keys.assign(num_layers_, 0);
  state.applied = false;  // the rebuilt cache is full until the trim position again
}

void KvPolicy::begin_turn(SequenceId sequence, int64_t first, int64_t end) {
  SLKV_CHECK(first >= 0 && first < end, "a turn of positions [" << first << ", " << end << ")");
  SequenceState& state = state_of(sequence);
  state.turn_begin = first;
  state.prompt_tokens = end;
  state.window_mass.assign(num_layers_, 0.0);
  state.observed.assign(num_layers_, 0);
  for (auto& masses : state.key_mass) masses.clear();
  state.key_mass_keys.assign(num_layers_, 0);
  state.decisions.decided = false;
  state.scored = false;
  state.applied = false;
}

KvPolicy::SequenceState& KvPolicy::state_of(SequenceId sequence) {
  auto it = sequences_.find(sequence);
  SLKV_CHECK(it != sequences_.end(), "the KV policy does not know sequence " << sequence);
  return it->second;
}

const KvPolicy::SequenceState& KvPolicy::state_of(SequenceId sequence) const {
  return const_cast<KvPolicy*>(this)->state_of(sequence);
}

const KvPolicyConfig& KvPolicy::config(SequenceId sequence) const { return state_of(sequence).config; }

IndexRange KvPolicy::score_positions(const SequenceState& state) const {
  const int64_t p = state.prompt_tokens;
  if (state.config.detect == LazyDetect::Decode) return {p, p + 1};
  return snapkv_positions(state);
}

IndexRange KvPolicy::snapkv_positions(const SequenceState& state) const {
  const int64_t p = state.prompt_tokens;
  return {std::max(state.turn_begin, p - state.config.obs_window), p};
}

int64_t KvPolicy::trim_position(SequenceId sequence) const {
  const SequenceState& state = state_of(sequence);
  // Lazy decisions detected at decode wait for the first generated token;
  // the other policies do not depend on them and trim after the prompt.
  const bool waits = state.config.uses_lazy_layers() && state.config.detect == LazyDetect::Decode;
  return state.prompt_tokens + (waits ? 1 : 0);
}

void KvPolicy::observe(int64_t layer, const SequenceChunk& chunk, const float* queries, const float* lse,
                       const KvCache& cache, const AttentionShape& shape) {
  auto it = sequences_.find(chunk.sequence);
  if (it == sequences_.end()) return;
  SequenceState& state = it->second;
  const int64_t n = static_cast<int64_t>(chunk.tokens.size());
  const IndexRange rows{chunk.first_position, chunk.first_position + n};
  const IndexRange scored = state.scored ? IndexRange{0, 0} : intersect(rows, score_positions(state));
  const IndexRange masses =
      state.config.uses_snapkv() && !state.applied ? intersect(rows, snapkv_positions(state)) : IndexRange{0, 0};
  if (scored.size() == 0 && masses.size() == 0) return;

  // The chunk's keys are the last n the layer holds, so row r is key slot held - n + r.
  const int64_t held = cache.tokens_held(chunk.sequence, layer);
  const std::vector<KvSpan> spans = cache.spans(chunk.sequence, layer);
  auto row_of = [&](int64_t position) { return position - chunk.first_position; };
  if (scored.size() > 0) {
    const int64_t r = row_of(scored.begin);
    state.window_mass[layer] += backend_.window_attention_mass(
        queries + r * shape.n_heads * shape.head_dim, scored.size(), held - n + r, lse + r * shape.n_heads, spans,
        shape, state.config.sink, state.config.recent);
    state.observed[layer] += scored.size() * shape.n_heads;
  }
  if (masses.size() > 0) {
    const int64_t r = row_of(masses.begin);
    observe_key_mass(state, layer, queries + r * shape.n_heads * shape.head_dim, masses.size(), held - n + r,
                     lse + r * shape.n_heads, spans, shape, held);
  }
}

// Adds the observed queries' attention per key to the layer's key masses,
// which grow to the keys held now (a later chunk's queries see more keys).
void KvPolicy::observe_key_mass(SequenceState& state, int64_t layer, const float* queries, int64_t count,
                                int64_t first_query_key, const float* lse, const std::vector<KvSpan>& spans,
                                const AttentionShape& shape, int64_t held) {
  const int64_t heads = shape.n_kv_heads;
  key_mass_pass_.assign(heads * held, 0.f);
  if (backend_.uses_host_memory()) {
    backend_.key_attention_mass(queries, count, first_query_key, lse, spans, shape, key_mass_pass_.data());
  } else {  // accumulate in the backend's memory, then bring the masses to the host for the selection
    const int64_t bytes = static_cast<int64_t>(key_mass_pass_.size() * sizeof(float));
    key_mass_scratch_.reserve(backend_, bytes);
    backend_.fill_zero(key_mass_scratch_.data(), bytes);
    backend_.key_attention_mass(queries, count, first_query_key, lse, spans, shape, key_mass_scratch_.floats());
    backend_.copy_to_host(key_mass_pass_.data(), key_mass_scratch_.data(), bytes);
  }
  std::vector<float>& total = state.key_mass[layer];
  const int64_t old_keys = state.key_mass_keys[layer];
  std::vector<float> grown(heads * held, 0.f);
  for (int64_t head = 0; head < heads; ++head) {
    for (int64_t key = 0; key < old_keys; ++key) grown[head * held + key] = total[head * old_keys + key];
    for (int64_t key = 0; key < held; ++key) grown[head * held + key] += key_mass_pass_[head * held + key];
  }
  total = std::move(grown);
  state.key_mass_keys[layer] = held;
}

void KvPolicy::after_pass(KvCache& cache, std::span<const SequenceChunk> chunks) {
  std::vector<SequenceState*> pending;
  std::vector<SequenceId> pending_ids;
  std::vector<bool> trims;
  for (const SequenceChunk& chunk : chunks) {
    auto it = sequences_.find(chunk.sequence);
    if (it == sequences_.end()) continue;
    SequenceState& state = it->second;
    const int64_t end = chunk.first_position + static_cast<int64_t>(chunk.tokens.size());
    const bool scoring = !state.scored && end >= score_positions(state).end;
    const bool trimming = !state.applied && end >= trim_position(chunk.sequence);
    if (!scoring && !trimming) continue;
    if (scoring) state.scored = true;  // every rank marks it from the positions alone
    pending.push_back(&state);
    pending_ids.push_back(chunk.sequence);
    trims.push_back(trimming);
  }
  if (pending.empty()) return;
  if (sync_) {
    exchange_decisions(pending);
  } else {
    for (SequenceState* state : pending) {
      score(*state);
      if (!state->decisions.decided) state->decisions.decided = decide(*state);
    }
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    SequenceState& state = *pending[i];
    if (trims[i] && state.decisions.decided) apply(cache, pending_ids[i], state);
  }
}

void KvPolicy::score(SequenceState& state) const {
  LayerDecisions& decisions = state.decisions;
  if (std::none_of(state.observed.begin(), state.observed.end(), [](int64_t n) { return n > 0; })) return;
  decisions.scores.assign(num_layers_, 0.0);
  for (int64_t layer = 0; layer < num_layers_; ++layer)
    if (state.observed[layer] > 0)  // a probability: rounding may not take it outside [0, 1]
      decisions.scores[layer] = std::clamp(state.window_mass[layer] / state.observed[layer], 0.0, 1.0);
}

bool KvPolicy::decide(SequenceState& state) const {
  LayerDecisions& decisions = state.decisions;
  const KvPolicyConfig& config = state.config;
  const bool scored = !decisions.scores.empty();
  if (config.uses_lazy_layers() && !scored) return false;  // not observed yet
  const bool fixed = !config.fixed_lazy_layers.empty();
  SLKV_CHECK(!fixed || static_cast<int64_t>(config.fixed_lazy_layers.size()) == num_layers_,
             "fixed lazy layers: one per layer");
  for (int64_t layer = 0; layer < num_layers_; ++layer)
    decisions.lazy[layer] =
        config.kind == KvPolicyKind::Streaming ||
        (config.uses_lazy_layers() && (fixed ? config.fixed_lazy_layers[layer] : decisions.scores[layer] > config.threshold));
  return true;
}

void KvPolicy::apply(KvCache& cache, SequenceId sequence, SequenceState& state) {
  const KvPolicyConfig& config = state.config;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    if (sync_ && !sync_->owns_layer(layer)) continue;  // another pipeline stage holds it
    if (state.decisions.lazy[layer]) {
      // Whole layers drop their middle (parked for sessions); windowed ones stay so.
      cache.apply_window(sequence, layer, config.sink, config.recent, config.growth);
      continue;
    }
    // A later turn: a layer windowed before is no longer lazy.
    const bool windowed = cache.retention(sequence, layer).kind == Retention::Kind::Window;
    if (windowed && config.reidentify == Reidentify::Cached && cache.can_restore(sequence, layer) &&
        cache.blocks_to_restore(sequence, layer) <= cache.pool().free_blocks())
      cache.restore_layer(sequence, layer);
    const Retention::Kind kind = cache.retention(sequence, layer).kind;
    if (kind == Retention::Kind::Full) cache.forget_parked(sequence, layer);
    if (config.uses_snapkv() && kind != Retention::Kind::Window) apply_snapkv(cache, sequence, layer, state);
  }
  state.applied = true;
}

// Distributed: the ranks sum their (window mass, observed) per layer; the
// coordinator scores and decides the pending sequences and broadcasts
// [decided?, scores..., lazy...] per sequence; every rank takes that verbatim.
void KvPolicy::exchange_decisions(const std::vector<SequenceState*>& pending) {
  const int64_t L = num_layers_;
  std::vector<double> sums(pending.size() * 2 * L, 0.0);
  for (size_t s = 0; s < pending.size(); ++s)
    for (int64_t layer = 0; layer < L; ++layer) {
      sums[(2 * s) * L + layer] = pending[s]->window_mass[layer];
      sums[(2 * s + 1) * L + layer] = static_cast<double>(pending[s]->observed[layer]);
    }
  sync_->gather_scores(sums);
  const int64_t stride = 1 + 2 * L;
  std::vector<double> buffer(pending.size() * stride, 0.0);
  if (sync_->is_coordinator()) {
    for (size_t s = 0; s < pending.size(); ++s) {
      SequenceState& state = *pending[s];
      for (int64_t layer = 0; layer < L; ++layer) {
        state.window_mass[layer] = sums[(2 * s) * L + layer];
        state.observed[layer] = static_cast<int64_t>(sums[(2 * s + 1) * L + layer]);
      }
      score(state);
      if (!state.decisions.decided) state.decisions.decided = decide(state);
      double* out = &buffer[s * stride];
      out[0] = state.decisions.decided ? 1.0 : 0.0;
      for (int64_t layer = 0; layer < L; ++layer) {
        out[1 + layer] = state.decisions.scores.empty() ? -1.0 : state.decisions.scores[layer];
        out[1 + L + layer] = state.decisions.lazy[layer] ? 1.0 : 0.0;
      }
    }
  }
  sync_->broadcast_decisions(buffer);
  for (size_t s = 0; s < pending.size(); ++s) {
    LayerDecisions& decisions = pending[s]->decisions;
    const double* in = &buffer[s * stride];
    decisions.scores.clear();
    if (in[1] >= 0.0) decisions.scores.assign(in + 1, in + 1 + L);
    for (int64_t layer = 0; layer < L; ++layer) decisions.lazy[layer] = in[1 + L + layer] != 0.0;
    decisions.decided = in[0] != 0.0;
  }
}

void KvPolicy::apply_snapkv(KvCache& cache, SequenceId sequence, int64_t layer, SequenceState& state) const {
  std::vector<float>& key_mass = state.key_mass[layer];
  const int64_t n_kv_heads = cache.geometry().n_kv_heads;
  const int64_t n_scored = state.key_mass_keys[layer];
  const int64_t observed = std::min(state.config.obs_window, n_scored);
  if (n_scored - observed <= state.config.snapkv_budget) return;  // nothing to drop
  if (sync_) sync_->reduce_key_mass(key_mass);  // replicated KV heads: every sharer picks the same tokens
  cache.keep_selected(sequence, layer,
                      snapkv_select(key_mass, n_kv_heads, n_scored, cache.tokens_held(sequence, layer), observed,
                                    state.config.snapkv_budget, state.config.snapkv_pool));
}

LayerDecisions KvPolicy::decisions(SequenceId sequence) const {
  auto it = sequences_.find(sequence);
  if (it == sequences_.end()) return LayerDecisions{{}, std::vector<bool>(num_layers_, false), false};
  return it->second.decisions;
}

std::vector<std::vector<int64_t>> snapkv_select(const std::vector<float>& key_mass, int64_t n_kv_heads,
                                                int64_t n_scored, int64_t held, int64_t obs_window, int64_t budget,
                                                int64_t pool) {
  const int64_t prefix = n_scored - obs_window;  // candidates: everything before the observation window
  const int64_t half = pool / 2;
  std::vector<std::vector<int64_t>> kept(n_kv_heads);
  std::vector<float> pooled(prefix);
  std::vector<int64_t> order(prefix);
  for (int64_t head = 0; head < n_kv_heads; ++head) {
    const float* scores = key_mass.data() + head * n_scored;
    for (int64_t j = 0; j < prefix; ++j) {
      const int64_t begin = std::max<int64_t>(0, j - half), end = std::min(prefix, j + half + 1);
      pooled[j] = *std::max_element(scores + begin, scores + end);
    }
    std::iota(order.begin(), order.end(), 0);
    const int64_t take = std::min(budget, prefix);
    std::partial_sort(order.begin(), order.begin() + take, order.end(),
                      [&](int64_t a, int64_t b) { return pooled[a] > pooled[b] || (pooled[a] == pooled[b] && a < b); });
    kept[head].assign(order.begin(), order.begin() + take);
    std::sort(kept[head].begin(), kept[head].end());
    for (int64_t slot = prefix; slot < held; ++slot) kept[head].push_back(slot);
  }
  return kept;
}

}  // namespace slkv
