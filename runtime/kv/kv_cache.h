#pragma once
// KvCache: the paged KV cache of one rank. Every (sequence, layer) has its own
// list of blocks from a shared KvBlockPool and its own retention, so layers of
// one request may hold very different numbers of tokens (SimLayerKV).
//
// A layer's tokens are stored as one or two segments of consecutive slots:
//   full layer      [ all tokens ]
//   windowed layer  [ sink tokens ] [ recent tokens ]  (the middle is freed)
// Keys are stored already rotated by RoPE at their absolute position, so
// trimming never needs to re-rotate anything.
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

#include "kernels/backend.h"
#include "runtime/checkpoint/model_config.h"
#include "runtime/kv/dropped_kv_store.h"
#include "runtime/kv/kv_block_pool.h"
#include "runtime/model_shard.h"

namespace slkv {

// What a layer keeps for a sequence.
struct Retention {
  enum class Kind { Full, Window, Selected } kind = Kind::Full;
  int64_t sink = 0;    // Window: first tokens kept
  int64_t recent = 0;  // Window: most recent tokens kept
};

// How a windowed layer treats tokens appended after trimming.
enum class WindowGrowth {
  Rolling,  // keep at most sink + recent tokens (StreamingLLM; bounded memory)
  Grow,     // keep appending (the reference SimLayerKV code)
};

struct KvCacheGeometry {
  int64_t num_layers = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 16;  // tokens per block
  int64_t max_blocks = 0;   // pool capacity, all layers and sequences together
};

// Room for full KV of tokens_per_sequence[i] tokens for each sequence.
KvCacheGeometry kv_geometry_for(const ModelConfig& config, const std::vector<int64_t>& tokens_per_sequence,
                                int64_t block_size = 16);

// One append of KvCache::append_all.
struct KvAppend {
  SequenceId sequence = 0;
  int64_t layer = 0;
  const float* keys = nullptr;
  const float* values = nullptr;
  int64_t n_tokens = 0;
};

class KvCache {
 public:
  // memory: the backend whose memory holds the KV blocks and whose
  // copy_regions moves them (the one the model runs on); it must outlive the cache.
  KvCache(const KvCacheGeometry& geometry, Backend& memory);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  SequenceId add_sequence();
  // Adds a sequence under a caller-chosen id (the engine's), which must be unused.
  void add_sequence(SequenceId sequence);
  void remove_sequence(SequenceId sequence);  // returns all its blocks to the pool
  bool has_sequence(SequenceId sequence) const { return sequences_.count(sequence) > 0; }
  // Starts `child` as a copy of `parent` that shares all its blocks (reference
  // counts, no copy); a shared block that either later writes into is copied
  // first (copy on write), so neither sees the other's new tokens. With
  // copy_blocks the child gets copies of every block instead (its own memory).
  void fork_sequence(SequenceId parent, SequenceId child, bool copy_blocks = false);
  // Blocks the pool must supply to append n_tokens to each of `layers` of
  // the sequence (new blocks plus copies of shared blocks written into).
  int64_t blocks_to_append(SequenceId sequence, IndexRange layers, int64_t n_tokens) const;

  // Appends n_tokens keys/values ([n_tokens][n_kv_heads][head_dim] each).
  // A Window layer in Rolling mode then drops its oldest recent tokens.
  void append(SequenceId sequence, int64_t layer, const float* keys, const float* values, int64_t n_tokens);
  // Every append in order, as append() does each, with all their copies
  // issued as one backend op (one kernel on a GPU for a whole batch).
  void append_all(std::span<const KvAppend> appends);

  // The layer's tokens in order, as contiguous runs for the attention kernel
  // (pointers into the cache's memory).
  std::vector<KvSpan> spans(SequenceId sequence, int64_t layer) const;

  // Trims the layer to its first `sink` and last `recent` tokens, freeing the
  // blocks in between at once. A layer holding <= sink + recent tokens keeps
  // them all but still becomes windowed for later appends. Tokens dropped
  // here or later rolling out of the window go to the dropped-KV store first
  // when it keeps the sequence's.
  void apply_window(SequenceId sequence, int64_t layer, int64_t sink, int64_t recent, WindowGrowth growth);

  // ---- dropped KV (offload) ----
  // The store that parks what windowed layers drop (null: drops are freed).
  void set_dropped_store(DroppedKvStore* store) { store_ = store; }
  DroppedKvStore* dropped_store() const { return store_; }
  // Whether the windowed layer's dropped tokens are all parked, so
  // restore_layer can make it whole again.
  bool can_restore(SequenceId sequence, int64_t layer) const;
  // Blocks restore_layer takes from the pool (the old ones go back after).
  int64_t blocks_to_restore(SequenceId sequence, int64_t layer) const;
  // Makes a windowed layer whole (Full retention) again: sink and recent
  // tokens are copied within the cache, the parked middle comes back from
  // the store, into fresh blocks. Requires can_restore(). The layer's
  // bookkeeping changes at once; its data arrives just before that layer
  // runs: the first append_all to the layer (the forward pass reaching it)
  // first completes its pending restores and starts the next layer's
  // host copies, so that under CUDA they overlap this layer's compute.
  // complete_restores() finishes whatever no pass reached.
  void restore_layer(SequenceId sequence, int64_t layer);
  void complete_restores();
  bool has_pending_restores() const { return !pending_restores_.empty(); }
  // The layer's parked tokens are no longer needed (it is whole).
  void forget_parked(SequenceId sequence, int64_t layer);
  // Keeps, for every KV head h, the slots kept_slots[h] (ascending, the same
  // count for every head), copied into fresh blocks (SnapKV token selection).
  void keep_selected(SequenceId sequence, int64_t layer, const std::vector<std::vector<int64_t>>& kept_slots);

  int64_t tokens_held(SequenceId sequence, int64_t layer) const;
  // Tokens ever appended to the layer: what full KV would hold.
  int64_t tokens_appended(SequenceId sequence, int64_t layer) const;
  int64_t blocks_held(SequenceId sequence, int64_t layer) const;  // distinct blocks
  const Retention& retention(SequenceId sequence, int64_t layer) const;
  // One held slot's keys/values, in the cache's memory (for tests).
  const float* key_at(SequenceId sequence, int64_t layer, int64_t slot) const;
  const float* value_at(SequenceId sequence, int64_t layer, int64_t slot) const;

  const KvCacheGeometry& geometry() const { return geometry_; }
  const KvBlockPool& pool() const { return pool_; }
  int64_t bytes_per_token_per_layer() const;  // keys + values, fp32
  Backend& memory() const { return backend_; }

 private:
  struct Segment {
    std::deque<BlockId> blocks;
    int64_t first_slot = 0;  // offset of the first token inside blocks.front()
    int64_t length = 0;      // tokens in this segment
  };
  struct LayerState {
    std::vector<Segment> segments;  // 1 (full/selected) or 2 (window: sink, recent)
    Retention retention;
    WindowGrowth growth = WindowGrowth::Rolling;
    int64_t appended = 0;
  };
  struct SequenceState {
    std::vector<LayerState> layers;
  };

  LayerState& layer_state(SequenceId sequence, int64_t layer);
  const LayerState& layer_state(SequenceId sequence, int64_t layer) const;
  // One append of append_all without its copies (added to `copies`).
  void append_bookkeeping(const KvAppend& item, std::vector<CopyRegion>& copies);
  // Takes slots for n_tokens more tokens (new blocks as needed) and adds the copies that fill them to `copies`.
  void append_to_segment(LayerState& state, Segment& segment, const float* keys, const float* values,
                         int64_t n_tokens, std::vector<CopyRegion>& copies);
  // Whether appending to the segment writes into a block another sequence holds.
  bool tail_is_shared(const LayerState& state, const Segment& segment) const;
  void drop_front(Segment& segment, int64_t n_tokens);
  // Splits a windowed layer's single segment into its first `sink` and last
  // `recent` tokens, freeing (and, park_drops, first parking) the middle.
  void split_window(SequenceId sequence, int64_t layer, LayerState& state, int64_t sink, int64_t recent,
                    bool park_drops);
  // Copies within the cache's memory, all in one backend call.
  void copy_regions(std::span<const CopyRegion> regions) const;
  void release_segments(LayerState& state);
  // pool_.release, also dropping the gathered copies (pending_copies_) bound
  // for a block that becomes free.
  void release_block(BlockId block);
  // Block and offset of slot `slot` of the layer.
  std::pair<BlockId, int64_t> locate(const LayerState& state, int64_t slot) const;
  // The slot holding absolute position `position` of the layer (held).
  int64_t slot_of(const LayerState& state, int64_t position) const;
  // Parks the layer's `positions` (about to be dropped) in the store when it
  // keeps the sequence's.
  void park(SequenceId sequence, int64_t layer, const LayerState& state, IndexRange positions);
  // Runs of the segment's slots [first, first + count): read or write views.
  std::vector<KvSlots> segment_slots(const Segment& segment, int64_t first, int64_t count) const;

  // A restore_layer whose data has not moved yet: the store's host copies
  // (issued once, possibly a layer early) and the moves within the cache,
  // with the replaced segments held until the moves have read them.
  struct PendingRestore {
    SequenceId sequence = 0;
    IndexRange parked;            // positions that come back from the store
    std::vector<KvSlots> target;  // where they go
    std::vector<CopyRegion> moves;
    std::vector<Segment> replaced;
    bool issued = false;  // the store's copies are on their way
  };
  // Starts the host copies of the layer's pending restores.
  void issue_restores(int64_t layer);
  // The layer's restored data in place (before it is read or appended to).
  void complete_restores(int64_t layer);

  KvCacheGeometry geometry_;
  Backend& backend_;
  KvBlockPool pool_;
  SequenceId next_sequence_ = 0;
  std::vector<CopyRegion>* pending_copies_ = nullptr;  // set while append_all gathers copies
  DroppedKvStore* store_ = nullptr;
  std::unordered_map<SequenceId, SequenceState> sequences_;
  std::map<int64_t, std::vector<PendingRestore>> pending_restores_;  // by layer
};

}  // namespace slkv
