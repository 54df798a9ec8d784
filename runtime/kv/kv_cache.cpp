#include "runtime/kv/kv_cache.h"

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>

#include "kernels/backend_buffer.h"
#include "core/error.h"

namespace slkv {

KvCacheGeometry kv_geometry_for(const ModelConfig& config, const std::vector<int64_t>& tokens_per_sequence,
                                int64_t block_size) {
  KvCacheGeometry geometry;
  geometry.num_layers = config.num_layers;
  geometry.n_kv_heads = config.num_kv_heads;
  geometry.head_dim = config.head_dim;
  geometry.block_size = block_size;
  int64_t blocks = 0;
  // +2 per layer: a windowed layer's sink and recent parts may each end in a partial block.
  for (int64_t tokens : tokens_per_sequence) blocks += config.num_layers * ((tokens + block_size - 1) / block_size + 2);
  geometry.max_blocks = std::max<int64_t>(blocks, 1);
  return geometry;
}

KvCache::KvCache(const KvCacheGeometry& geometry, Backend& memory)
    : geometry_(geometry),
      backend_(memory),
      pool_(geometry.block_size, geometry.n_kv_heads * geometry.head_dim, geometry.max_blocks, &memory) {}

void KvCache::copy_regions(std::span<const CopyRegion> regions) const {
  backend_.copy_regions(regions);  // one kernel on a GPU
}

KvCache::~KvCache() {
  for (auto& [id, sequence] : sequences_)
    for (auto& layer : sequence.layers) release_segments(layer);
  for (auto& [layer, restores] : pending_restores_)
    for (PendingRestore& pending : restores)
      for (Segment& segment : pending.replaced)
        for (BlockId block : segment.blocks) release_block(block);
}

SequenceId KvCache::add_sequence() {
  while (sequences_.count(next_sequence_)) ++next_sequence_;
  SequenceId id = next_sequence_++;
  add_sequence(id);
  return id;
}

void KvCache::add_sequence(SequenceId sequence) {
  SLKV_CHECK(!sequences_.count(sequence), "sequence " << sequence << " already exists");
  SequenceState state;
  state.layers.resize(geometry_.num_layers);
  for (auto& layer : state.layers) layer.segments.resize(1);
  sequences_.emplace(sequence, std::move(state));
}

void KvCache::fork_sequence(SequenceId parent, SequenceId child, bool copy_blocks) {
  complete_restores();  // their data first: this reads or frees blocks
  auto it = sequences_.find(parent);
  SLKV_CHECK(it != sequences_.end(), "unknown sequence " << parent);
  SequenceState copy = it->second;
  std::vector<CopyRegion> copies;
  const int64_t block_bytes = geometry_.block_size * pool_.floats_per_token() * static_cast<int64_t>(sizeof(float));
  for (LayerState& layer : copy.layers)
    for (Segment& segment : layer.segments)
      for (BlockId& block : segment.blocks) {
        if (!copy_blocks) {
          pool_.retain(block);
          continue;
        }
        const BlockId own = pool_.allocate();
        copies.push_back({pool_.keys(own), pool_.keys(block), block_bytes});
        copies.push_back({pool_.values(own), pool_.values(block), block_bytes});
        block = own;
      }
  copy_regions(copies);
  add_sequence(child);
  sequences_[child] = std::move(copy);
}

bool KvCache::tail_is_shared(const LayerState& state, const Segment& segment) const {
  const int64_t end_slot = segment.first_slot + segment.length;
  if (segment.blocks.empty() || end_slot % geometry_.block_size == 0) return false;  // the next token starts a new block
  const BlockId tail = segment.blocks.back();
  // The layer's own segments may share one block (sink and recent); only
  // holders beyond those belong to another sequence.
  int32_t own = 0;
  for (const Segment& s : state.segments) own += static_cast<int32_t>(std::count(s.blocks.begin(), s.blocks.end(), tail));
  return pool_.holders(tail) > own;
}

int64_t KvCache::blocks_to_append(SequenceId sequence, IndexRange layers, int64_t n_tokens) const {
  int64_t blocks = 0;
  const int64_t block_size = geometry_.block_size;
  for (int64_t layer = layers.begin; layer < layers.end; ++layer) {
    const LayerState& state = layer_state(sequence, layer);
    const Segment& segment = state.segments.back();
    const int64_t end_slot = segment.first_slot + segment.length;
    const int64_t capacity = static_cast<int64_t>(segment.blocks.size()) * block_size;
    const int64_t room = capacity - end_slot;
    if (room > 0 && tail_is_shared(state, segment)) ++blocks;
    if (n_tokens > room) blocks += (n_tokens - room + block_size - 1) / block_size;
  }
  return blocks;
}

void KvCache::remove_sequence(SequenceId sequence) {
  complete_restores();  // their data first: this reads or frees blocks
  auto it = sequences_.find(sequence);
  SLKV_CHECK(it != sequences_.end(), "unknown sequence " << sequence);
  for (auto& layer : it->second.layers) release_segments(layer);
  sequences_.erase(it);
}

KvCache::LayerState& KvCache::layer_state(SequenceId sequence, int64_t layer) {
  auto it = sequences_.find(sequence);
  SLKV_CHECK(it != sequences_.end(), "unknown sequence " << sequence);
  SLKV_CHECK(layer >= 0 && layer < geometry_.num_layers, "layer " << layer << " out of range");
  return it->second.layers[layer];
}

const KvCache::LayerState& KvCache::layer_state(SequenceId sequence, int64_t layer) const {
  return const_cast<KvCache*>(this)->layer_state(sequence, layer);
}

void KvCache::release_segments(LayerState& state) {
  for (auto& segment : state.segments) {
    for (BlockId block : segment.blocks) release_block(block);
    segment = Segment{};
  }
}

void KvCache::append_to_segment(LayerState& state, Segment& segment, const float* keys, const float* values,
                                int64_t n_tokens, std::vector<CopyRegion>& copies) {
  const int64_t block_size = geometry_.block_size;
  const int64_t floats = pool_.floats_per_token();
  const int64_t token_bytes = floats * static_cast<int64_t>(sizeof(float));
  if (n_tokens > 0 && tail_is_shared(state, segment)) {
    // Copy on write: the tail block is another sequence's too (a fork), so
    // its tokens so far move to a block of our own before we write after them.
    const BlockId shared = segment.blocks.back();
    const BlockId own = pool_.allocate();
    const int64_t used_bytes = ((segment.first_slot + segment.length) % block_size) * token_bytes;
    copies.push_back({pool_.keys(own), pool_.keys(shared), used_bytes});
    copies.push_back({pool_.values(own), pool_.values(shared), used_bytes});
    segment.blocks.back() = own;
    release_block(shared);  // still held by the other sequence: nothing is freed
  }
  while (n_tokens > 0) {
    int64_t end_slot = segment.first_slot + segment.length;
    int64_t capacity = static_cast<int64_t>(segment.blocks.size()) * block_size;
    if (end_slot == capacity) {
      segment.blocks.push_back(pool_.allocate());
      capacity += block_size;
    }
    BlockId block = segment.blocks[end_slot / block_size];
    int64_t offset = end_slot % block_size;
    int64_t count = std::min(n_tokens, capacity - end_slot);
    copies.push_back({pool_.keys(block) + offset * floats, keys, count * token_bytes});
    copies.push_back({pool_.values(block) + offset * floats, values, count * token_bytes});
    keys += count * floats;
    values += count * floats;
    segment.length += count;
    n_tokens -= count;
  }
}

void KvCache::drop_front(Segment& segment, int64_t n_tokens) {
  SLKV_CHECK(n_tokens <= segment.length, "dropping more tokens than held");
  segment.first_slot += n_tokens;
  segment.length -= n_tokens;
  while (!segment.blocks.empty() && segment.first_slot >= geometry_.block_size) {
    release_block(segment.blocks.front());
    segment.blocks.pop_front();
    segment.first_slot -= geometry_.block_size;
  }
}

void KvCache::append(SequenceId sequence, int64_t layer, const float* keys, const float* values, int64_t n_tokens) {
  const KvAppend one{sequence, layer, keys, values, n_tokens};
  append_all(std::span(&one, 1));
}

void KvCache::release_block(BlockId block) {
  if (!pool_.release(block) || !pending_copies_) return;
  // The block is free: its tokens are dead, and a later append of the batch
  // may take it, so copies still bound for it must not run after theirs.
  const int64_t block_bytes = geometry_.block_size * pool_.floats_per_token() * static_cast<int64_t>(sizeof(float));
  auto inside = [&](const void* dst, const float* region) {
    const auto* byte = static_cast<const std::byte*>(dst);
    const auto* begin = reinterpret_cast<const std::byte*>(region);
    return byte >= begin && byte < begin + block_bytes;
  };
  std::erase_if(*pending_copies_, [&](const CopyRegion& copy) {
    return inside(copy.dst, pool_.keys(block)) || inside(copy.dst, pool_.values(block));
  });
}

void KvCache::append_all(std::span<const KvAppend> appends) {
  // A forward pass reaches a layer: its restores complete, the next one's start.
  if (!pending_restores_.empty())
    for (const KvAppend& item : appends)
      if (pending_restores_.count(item.layer)) {
        complete_restores(item.layer);
        auto next = pending_restores_.upper_bound(item.layer);
        if (next != pending_restores_.end()) issue_restores(next->first);
      }
  // Bookkeeping first, gathering the copies, then the copies in one op.
  std::vector<CopyRegion> copies;
  pending_copies_ = &copies;
  try {
    for (const KvAppend& item : appends) append_bookkeeping(item, copies);
  } catch (...) {
    // A full pool stops the batch part way: the slots taken so far are
    // counted as held, so they get their keys and values before the error goes on.
    pending_copies_ = nullptr;
    copy_regions(copies);
    throw;
  }
  pending_copies_ = nullptr;
  copy_regions(copies);
}

void KvCache::append_bookkeeping(const KvAppend& item, std::vector<CopyRegion>& copies) {
  LayerState& state = layer_state(item.sequence, item.layer);
  append_to_segment(state, state.segments.back(), item.keys, item.values, item.n_tokens, copies);
  state.appended += item.n_tokens;
  const Retention& retention = state.retention;
  if (retention.kind != Retention::Kind::Window || state.growth != WindowGrowth::Rolling) return;
  // The pass attends after this append: its first query must still see its
  // last `recent` keys (itself included), as a decode token does, so the
  // window keeps recent - 1 older tokens besides the appended ones. Later
  // queries of a chunk see a little more; the next append trims it back.
  const int64_t keep = retention.recent + item.n_tokens - 1;
  if (state.segments.size() == 1) {
    // Not yet split: a short prompt that has now grown past the window.
    if (state.segments[0].length > retention.sink + keep) split_window(item.sequence, item.layer, state, retention.sink, keep, /*park_drops=*/true);
  } else {
    Segment& recent = state.segments.back();
    if (recent.length > keep) {
      const int64_t drop = recent.length - keep;
      const int64_t first = state.appended - recent.length;  // the oldest recent token's position
      park(item.sequence, item.layer, state, IndexRange{first, first + drop});
      drop_front(recent, drop);
    }
  }
}

void KvCache::apply_window(SequenceId sequence, int64_t layer, int64_t sink, int64_t recent, WindowGrowth growth) {
  complete_restores();  // their data first: this reads or frees blocks
  SLKV_CHECK(sink >= 0 && recent >= 0, "negative window");
  LayerState& state = layer_state(sequence, layer);
  // A token-selected (SnapKV) layer's slots are not positions: its drops are not parked.
  const bool parkable = state.retention.kind != Retention::Kind::Selected;
  state.retention = Retention{Retention::Kind::Window, sink, recent};
  state.growth = growth;
  if (state.segments.size() == 1 && state.segments[0].length > sink + recent)
    split_window(sequence, layer, state, sink, recent, parkable);
}

void KvCache::split_window(SequenceId sequence, int64_t layer, LayerState& state, int64_t sink, int64_t recent,
                           bool park_drops) {
  // Split the single segment into [sink] and [recent]; free the blocks between, parked first.
  if (park_drops) {
    const int64_t first = state.appended - state.segments[0].length;  // position of slot 0
    park(sequence, layer, state, IndexRange{first + sink, state.appended - recent});
  }
  Segment whole = std::move(state.segments[0]);
  const int64_t block_size = geometry_.block_size;
  const int64_t recent_start = whole.length - recent;  // > sink
  const int64_t n_blocks = static_cast<int64_t>(whole.blocks.size());
  const int64_t last_sink_block = sink > 0 ? (whole.first_slot + sink - 1) / block_size : -1;
  const int64_t first_recent_block = recent > 0 ? (whole.first_slot + recent_start) / block_size : n_blocks;

  Segment sink_segment;
  sink_segment.first_slot = whole.first_slot;
  sink_segment.length = sink;
  for (int64_t b = 0; b <= last_sink_block; ++b) sink_segment.blocks.push_back(whole.blocks[b]);

  Segment recent_segment;
  recent_segment.length = recent;
  recent_segment.first_slot = recent > 0 ? (whole.first_slot + recent_start) % block_size : 0;
  for (int64_t b = first_recent_block; b < n_blocks; ++b) recent_segment.blocks.push_back(whole.blocks[b]);

  for (int64_t b = last_sink_block + 1; b < first_recent_block; ++b) release_block(whole.blocks[b]);
  // A block holding both the last sink tokens and the first recent ones now has two holders.
  if (last_sink_block >= 0 && last_sink_block == first_recent_block) pool_.retain(whole.blocks[last_sink_block]);

  state.segments.clear();
  state.segments.push_back(std::move(sink_segment));
  state.segments.push_back(std::move(recent_segment));
}

void KvCache::keep_selected(SequenceId sequence, int64_t layer, const std::vector<std::vector<int64_t>>& kept_slots) {
  complete_restores();  // their data first: this reads or frees blocks
  LayerState& state = layer_state(sequence, layer);
  SLKV_CHECK(static_cast<int64_t>(kept_slots.size()) == geometry_.n_kv_heads, "one slot list per KV head");
  const int64_t n_kept = static_cast<int64_t>(kept_slots[0].size());
  const int64_t held = tokens_held(sequence, layer);
  for (const auto& slots : kept_slots) {
    SLKV_CHECK(static_cast<int64_t>(slots.size()) == n_kept, "every KV head keeps the same count");
    for (int64_t slot : slots) SLKV_CHECK(slot >= 0 && slot < held, "slot " << slot << " not held");
  }
  const int64_t head_dim = geometry_.head_dim;
  const int64_t floats = pool_.floats_per_token();
  // Gather the kept slots into scratch in the cache's own memory, then rebuild the layer from it.
  const int64_t scratch_floats = std::max<int64_t>(n_kept * floats, 1);
  BackendBuffer scratch;
  scratch.reserve(backend_, 2 * scratch_floats * static_cast<int64_t>(sizeof(float)));
  float* keys = scratch.floats();
  float* values = keys + scratch_floats;
  const int64_t head_bytes = head_dim * static_cast<int64_t>(sizeof(float));
  std::vector<CopyRegion> gather;
  gather.reserve(2 * geometry_.n_kv_heads * n_kept);
  for (int64_t head = 0; head < geometry_.n_kv_heads; ++head) {
    for (int64_t j = 0; j < n_kept; ++j) {
      auto [block, offset] = locate(state, kept_slots[head][j]);
      const int64_t source = offset * floats + head * head_dim;
      gather.push_back({keys + j * floats + head * head_dim, pool_.keys(block) + source, head_bytes});
      gather.push_back({values + j * floats + head * head_dim, pool_.values(block) + source, head_bytes});
    }
  }
  copy_regions(gather);
  release_segments(state);
  state.segments.assign(1, Segment{});
  state.retention = Retention{Retention::Kind::Selected, 0, 0};
  std::vector<CopyRegion> refill;
  append_to_segment(state, state.segments[0], keys, values, n_kept, refill);
  copy_regions(refill);
}

std::vector<KvSpan> KvCache::spans(SequenceId sequence, int64_t layer) const {
  const LayerState& state = layer_state(sequence, layer);
  const int64_t block_size = geometry_.block_size;
  const int64_t floats = pool_.floats_per_token();
  std::vector<KvSpan> result;
  for (const Segment& segment : state.segments) {
    int64_t slot = segment.first_slot;
    int64_t remaining = segment.length;
    while (remaining > 0) {
      BlockId block = segment.blocks[slot / block_size];
      int64_t offset = slot % block_size;
      int64_t count = std::min(remaining, block_size - offset);
      const float* keys = pool_.keys(block) + offset * floats;
      const float* values = pool_.values(block) + offset * floats;
      // Blocks next to each other in a slab continue the previous run: one span for both.
      if (!result.empty() && result.back().keys + result.back().n_tokens * floats == keys &&
          result.back().values + result.back().n_tokens * floats == values)
        result.back().n_tokens += count;
      else
        result.push_back(KvSpan{keys, values, count});
      slot += count;
      remaining -= count;
    }
  }
  return result;
}

std::pair<BlockId, int64_t> KvCache::locate(const LayerState& state, int64_t slot) const {
  for (const Segment& segment : state.segments) {
    if (slot < segment.length) {
      int64_t absolute = segment.first_slot + slot;
      return {segment.blocks[absolute / geometry_.block_size], absolute % geometry_.block_size};
    }
    slot -= segment.length;
  }
  SLKV_CHECK(false, "slot out of range");
  return {-1, 0};
}

int64_t KvCache::slot_of(const LayerState& state, int64_t position) const {
  if (state.segments.size() == 1) return position - (state.appended - state.segments[0].length);
  const Segment& sink = state.segments[0];
  const Segment& recent = state.segments[1];
  if (position < sink.length) return position;
  const int64_t first_recent = state.appended - recent.length;
  SLKV_CHECK(position >= first_recent, "position " << position << " is not held (dropped)");
  return sink.length + position - first_recent;
}

void KvCache::park(SequenceId sequence, int64_t layer, const LayerState& state, IndexRange positions) {
  if (!store_ || positions.size() <= 0 || !store_->parks(sequence)) return;
  // What the store holds already is not copied again (a layer trimmed again after a restore).
  const IndexRange parked = store_->parked(sequence, layer);
  if (parked.size() > 0 && positions.begin >= parked.begin) positions.begin = std::max(positions.begin, parked.end);
  if (positions.size() <= 0) return;
  const int64_t floats = pool_.floats_per_token();
  std::vector<KvSpan> runs;
  auto add = [&](const float* keys, const float* values) {
    KvSpan* last = runs.empty() ? nullptr : &runs.back();
    if (last && last->keys + last->n_tokens * floats == keys && last->values + last->n_tokens * floats == values)
      ++last->n_tokens;
    else
      runs.push_back(KvSpan{keys, values, 1});
  };
  // Dropped tokens are never the ones being appended (see append_bookkeeping):
  // their keys are in the blocks already.
  for (int64_t position = positions.begin; position < positions.end; ++position) {
    auto [block, offset] = locate(state, slot_of(state, position));
    add(pool_.keys(block) + offset * floats, pool_.values(block) + offset * floats);
  }
  store_->park(sequence, layer, positions.begin, runs);
}

std::vector<KvSlots> KvCache::segment_slots(const Segment& segment, int64_t first, int64_t count) const {
  const int64_t block_size = geometry_.block_size;
  const int64_t floats = pool_.floats_per_token();
  auto& pool = const_cast<KvBlockPool&>(pool_);  // the views write into the cache's own blocks
  std::vector<KvSlots> runs;
  int64_t slot = segment.first_slot + first;
  while (count > 0) {
    const BlockId block = segment.blocks[slot / block_size];
    const int64_t offset = slot % block_size;
    const int64_t n = std::min(count, block_size - offset);
    runs.push_back(KvSlots{pool.keys(block) + offset * floats, pool.values(block) + offset * floats, n});
    slot += n;
    count -= n;
  }
  return runs;
}

bool KvCache::can_restore(SequenceId sequence, int64_t layer) const {
  const LayerState& state = layer_state(sequence, layer);
  if (!store_ || !store_->parks(sequence) || state.retention.kind != Retention::Kind::Window) return false;
  if (state.segments.size() == 1) return true;  // windowed, but nothing was dropped yet
  const int64_t sink = state.segments[0].length;
  const int64_t cut = state.appended - state.segments[1].length;
  if (cut == sink) return true;
  const IndexRange parked = store_->parked(sequence, layer);
  return parked.begin <= sink && parked.end >= cut;
}

int64_t KvCache::blocks_to_restore(SequenceId sequence, int64_t layer) const {
  const LayerState& state = layer_state(sequence, layer);
  if (state.retention.kind != Retention::Kind::Window || state.segments.size() == 1) return 0;
  return (state.appended + geometry_.block_size - 1) / geometry_.block_size;
}

void KvCache::restore_layer(SequenceId sequence, int64_t layer) {
  SLKV_CHECK(can_restore(sequence, layer), "layer " << layer << " of sequence " << sequence << " cannot be restored");
  LayerState& state = layer_state(sequence, layer);
  if (state.segments.size() == 1) {  // nothing was dropped
    state.retention = Retention{};
    return;
  }
  const Segment& sink = state.segments[0];
  const Segment& recent = state.segments[1];
  const int64_t total = state.appended;
  const int64_t cut = total - recent.length;
  Segment whole;
  whole.length = total;
  try {
    for (int64_t b = 0; b < blocks_to_restore(sequence, layer); ++b) whole.blocks.push_back(pool_.allocate());
  } catch (...) {
    for (BlockId block : whole.blocks) release_block(block);
    throw;
  }
  // Sink and recent tokens move within the cache (one op), the middle comes from the store.
  std::vector<CopyRegion> moves;
  const int64_t token_bytes = pool_.floats_per_token() * static_cast<int64_t>(sizeof(float));
  auto move = [&](const Segment& from, int64_t first_position) {
    const std::vector<KvSlots> src = segment_slots(from, 0, from.length);
    const std::vector<KvSlots> dst = segment_slots(whole, first_position, from.length);
    size_t i = 0, j = 0;
    int64_t used_src = 0, used_dst = 0;
    while (i < src.size() && j < dst.size()) {
      const int64_t n = std::min(src[i].n_tokens - used_src, dst[j].n_tokens - used_dst);
      const int64_t src_at = used_src * pool_.floats_per_token(), dst_at = used_dst * pool_.floats_per_token();
      moves.push_back({dst[j].keys + dst_at, src[i].keys + src_at, n * token_bytes});
      moves.push_back({dst[j].values + dst_at, src[i].values + src_at, n * token_bytes});
      used_src += n;
      used_dst += n;
      if (used_src == src[i].n_tokens) ++i, used_src = 0;
      if (used_dst == dst[j].n_tokens) ++j, used_dst = 0;
    }
  };
  move(sink, 0);
  move(recent, cut);
  PendingRestore pending;
  pending.sequence = sequence;
  pending.moves = std::move(moves);
  if (cut > sink.length) {
    pending.parked = IndexRange{sink.length, cut};
    pending.target = segment_slots(whole, sink.length, cut - sink.length);
  }
  pending.replaced = std::move(state.segments);
  state.segments.clear();
  state.segments.push_back(std::move(whole));
  state.retention = Retention{};
  pending_restores_[layer].push_back(std::move(pending));
}

void KvCache::issue_restores(int64_t layer) {
  auto it = pending_restores_.find(layer);
  if (it == pending_restores_.end()) return;
  for (PendingRestore& pending : it->second) {
    if (pending.issued) continue;
    if (pending.parked.size() > 0) store_->restore(pending.sequence, layer, pending.parked, pending.target);
    pending.issued = true;
  }
}

void KvCache::complete_restores(int64_t layer) {
  auto it = pending_restores_.find(layer);
  if (it == pending_restores_.end()) return;
  issue_restores(layer);
  std::vector<CopyRegion> moves;
  for (const PendingRestore& pending : it->second) moves.insert(moves.end(), pending.moves.begin(), pending.moves.end());
  copy_regions(moves);
  backend_.fence_host_copies();  // the layer is read only once its parked tokens are back
  for (PendingRestore& pending : it->second)
    for (Segment& segment : pending.replaced)
      for (BlockId block : segment.blocks) release_block(block);
  pending_restores_.erase(it);
}

void KvCache::complete_restores() {
  while (!pending_restores_.empty()) complete_restores(pending_restores_.begin()->first);
}

void KvCache::forget_parked(SequenceId sequence, int64_t layer) {
  complete_restores();  // a restore still to issue reads the parked tokens
  if (store_ && store_->parks(sequence)) store_->forget_layer(sequence, layer);
}

int64_t KvCache::tokens_held(SequenceId sequence, int64_t layer) const {
  int64_t total = 0;
  for (const Segment& segment : layer_state(sequence, layer).segments) total += segment.length;
  return total;
}

int64_t KvCache::tokens_appended(SequenceId sequence, int64_t layer) const {
  return layer_state(sequence, layer).appended;
}

int64_t KvCache::blocks_held(SequenceId sequence, int64_t layer) const {
  std::set<BlockId> distinct;
  for (const Segment& segment : layer_state(sequence, layer).segments)
    distinct.insert(segment.blocks.begin(), segment.blocks.end());
  return static_cast<int64_t>(distinct.size());
}

const Retention& KvCache::retention(SequenceId sequence, int64_t layer) const {
  return layer_state(sequence, layer).retention;
}

const float* KvCache::key_at(SequenceId sequence, int64_t layer, int64_t slot) const {
  auto [block, offset] = locate(layer_state(sequence, layer), slot);
  return pool_.keys(block) + offset * pool_.floats_per_token();
}

const float* KvCache::value_at(SequenceId sequence, int64_t layer, int64_t slot) const {
  auto [block, offset] = locate(layer_state(sequence, layer), slot);
  return pool_.values(block) + offset * pool_.floats_per_token();
}

int64_t KvCache::bytes_per_token_per_layer() const {
  return 2 * pool_.floats_per_token() * static_cast<int64_t>(sizeof(float));
}

}  // namespace slkv
