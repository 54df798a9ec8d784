#include "runtime/kv/kv_policy.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace slkv {

KvPolicy::KvPolicy(const KvPolicyConfig& config, int64_t num_layers, Backend& backend)
    : config_(config), num_layers_(num_layers), backend_(backend) {
  config_.validate();
}

bool KvPolicy::scores_in(Phase phase) const {
  return (phase == Phase::Prefill && config_.detect == LazyDetect::Prefill) ||
         (phase == Phase::FirstDecode && config_.detect == LazyDetect::Decode);
}

AttentionObserver* KvPolicy::begin_prefill(std::span<const SequenceChunk> chunks) {
  phase_ = Phase::Prefill;
  for (const SequenceChunk& chunk : chunks) {
    SequenceState state;
    state.window_mass.assign(num_layers_, 0.0);
    state.observed.assign(num_layers_, 0);
    state.key_mass.resize(num_layers_);
    state.decisions.lazy.assign(num_layers_, false);
    sequences_[chunk.sequence] = std::move(state);
  }
  // Scores are computed for every policy so that reports always show them.
  return this;
}

void KvPolicy::observe(int64_t layer, const SequenceChunk& chunk, const float* queries, const float* lse,
                       const KvCache& cache, const AttentionShape& shape) {
  auto it = sequences_.find(chunk.sequence);
  if (it == sequences_.end() || phase_ == Phase::Idle) return;
  SequenceState& state = it->second;
  const int64_t n = static_cast<int64_t>(chunk.tokens.size());
  const int64_t observed = std::min(config_.obs_window, n);
  const int64_t held = cache.tokens_held(chunk.sequence, layer);
  const int64_t first_query_key = held - observed;  // the chunk's keys are the last ones held
  const float* observed_queries = queries + (n - observed) * shape.n_heads * shape.head_dim;
  const float* observed_lse = lse + (n - observed) * shape.n_heads;
  const std::vector<KvSpan> spans = cache.spans(chunk.sequence, layer);

  if (scores_in(phase_)) {
    state.window_mass[layer] += backend_.window_attention_mass(
        observed_queries, observed, first_query_key, observed_lse, spans, shape, config_.sink, config_.recent);
    state.observed[layer] += observed * shape.n_heads;
  }
  if (phase_ == Phase::Prefill && config_.uses_snapkv()) {
    std::vector<float>& key_mass = state.key_mass[layer];
    key_mass.assign(shape.n_kv_heads * held, 0.f);
    if (backend_.uses_host_memory()) {
      backend_.key_attention_mass(observed_queries, observed, first_query_key, observed_lse, spans, shape,
                                  key_mass.data());
    } else {  // accumulate in the backend's memory, then bring the masses to the host for the selection
      const int64_t bytes = static_cast<int64_t>(key_mass.size() * sizeof(float));
      key_mass_scratch_.reserve(backend_, bytes);
      backend_.fill_zero(key_mass_scratch_.data(), bytes);
      backend_.key_attention_mass(observed_queries, observed, first_query_key, observed_lse, spans, shape,
                                  key_mass_scratch_.floats());
      backend_.copy_to_host(key_mass.data(), key_mass_scratch_.data(), bytes);
    }
  }
}

void KvPolicy::end_prefill(KvCache& cache) {
  const Phase observed_phase = phase_;
  phase_ = Phase::Idle;
  if (observed_phase != Phase::Prefill) return;
  // Lazy decisions wait for the first decode step in decode mode; the other
  // policies do not depend on them and trim right after prefill.
  if (config_.detect == LazyDetect::Prefill || !config_.uses_lazy_layers()) decide_and_apply(cache);
}

AttentionObserver* KvPolicy::begin_decode_step(int64_t step, std::span<const SequenceChunk>) {
  if (step != 0 || config_.detect != LazyDetect::Decode) return nullptr;
  phase_ = Phase::FirstDecode;
  return this;
}

void KvPolicy::end_decode_step(int64_t step, KvCache& cache) {
  if (step != 0 || phase_ != Phase::FirstDecode) return;
  phase_ = Phase::Idle;
  decide_and_apply(cache);
}

void KvPolicy::score(SequenceState& state) const {
  LayerDecisions& decisions = state.decisions;
  if (std::any_of(state.observed.begin(), state.observed.end(), [](int64_t n) { return n > 0; })) {
    decisions.scores.assign(num_layers_, 0.0);
    for (int64_t layer = 0; layer < num_layers_; ++layer)
      if (state.observed[layer] > 0) decisions.scores[layer] = state.window_mass[layer] / state.observed[layer];
  }
}

bool KvPolicy::decide(SequenceState& state) const {
  LayerDecisions& decisions = state.decisions;
  const bool scored = !decisions.scores.empty();
  if (config_.uses_lazy_layers() && !scored) return false;  // not observed yet (finished before its decode step)
  for (int64_t layer = 0; layer < num_layers_; ++layer)
    decisions.lazy[layer] = config_.kind == KvPolicyKind::Streaming ||
                            (config_.uses_lazy_layers() && decisions.scores[layer] > config_.threshold);
  return true;
}

void KvPolicy::apply(KvCache& cache, SequenceId sequence, SequenceState& state) {
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    if (sync_ && !sync_->owns_layer(layer)) continue;  // another pipeline stage holds it
    if (state.decisions.lazy[layer])
      cache.apply_window(sequence, layer, config_.sink, config_.recent, config_.growth);
    else if (config_.uses_snapkv())
      apply_snapkv(cache, sequence, layer, state);
  }
  state.decisions.decided = true;
}

// Distributed: the ranks sum their (window mass, observed) per layer; the
// coordinator scores and decides every undecided sequence and broadcasts
// [decide?, scores..., lazy...] per sequence; every rank takes that verbatim.
void KvPolicy::exchange_and_decide() {
  std::vector<SequenceState*> pending;
  for (auto& [sequence, state] : sequences_)
    if (!state.decisions.decided) pending.push_back(&state);
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
      const bool decided = decide(state);
      double* out = &buffer[s * stride];
      out[0] = decided ? 1.0 : 0.0;
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
    decisions.decided = in[0] != 0.0;  // apply() below marks it again
    if (!decisions.decided) decisions.scores.clear();
  }
}

void KvPolicy::decide_and_apply(KvCache& cache) {
  if (sync_) {
    exchange_and_decide();
    for (auto& [sequence, state] : sequences_)
      if (state.decisions.decided && !state.applied) {
        apply(cache, sequence, state);
        state.applied = true;
      }
    return;
  }
  for (auto& [sequence, state] : sequences_) {
    score(state);
    if (state.decisions.decided) continue;  // retention is applied once per sequence
    if (decide(state)) apply(cache, sequence, state);
  }
}

void KvPolicy::apply_snapkv(KvCache& cache, SequenceId sequence, int64_t layer, SequenceState& state) const {
  std::vector<float>& key_mass = state.key_mass[layer];
  const int64_t n_kv_heads = cache.geometry().n_kv_heads;
  const int64_t n_scored = static_cast<int64_t>(key_mass.size()) / n_kv_heads;
  const int64_t observed = std::min(config_.obs_window, n_scored);
  if (n_scored - observed <= config_.snapkv_budget) return;  // nothing to drop
  if (sync_) sync_->reduce_key_mass(key_mass);  // replicated KV heads: every sharer picks the same tokens
  cache.keep_selected(sequence, layer,
                      snapkv_select(key_mass, n_kv_heads, n_scored, cache.tokens_held(sequence, layer), observed,
                                    config_.snapkv_budget, config_.snapkv_pool));
}

LayerDecisions KvPolicy::decisions(SequenceId sequence) const {
  auto it = sequences_.find(sequence);
  if (it == sequences_.end()) return LayerDecisions{{}, std::vector<bool>(num_layers_, false), false};
  return it->second.decisions;
}

void KvPolicy::set_decisions(SequenceId sequence, const std::vector<bool>& lazy) {
  SLKV_CHECK(static_cast<int64_t>(lazy.size()) == num_layers_, "one decision per layer");
  sequences_.at(sequence).decisions.lazy = lazy;
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
