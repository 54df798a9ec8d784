#pragma once
// Topology: where a rank sits in the tp x pp grid (FasterTransformer /
// TensorRT-LLM layout: pp_rank = rank / tp, tp_rank = rank % tp), which
// layers its pipeline stage runs and which heads / rows its tensor-parallel
// slice holds. Pure arithmetic, checked before any weight is loaded.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model_config.h"

namespace slkv {

// A half-open index range [begin, end).
struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool contains(int64_t i) const { return i >= begin && i < end; }
};

// Part `index` of `n` items split into `parts` contiguous pieces as evenly as
// possible (the first n % parts pieces get one extra).
IndexRange split_evenly(int64_t n, int64_t parts, int64_t index);

struct Topology {
  int world_size = 1;
  int rank = 0;
  int tp = 1;
  int pp = 1;
  int tp_rank = 0;  // rank % tp
  int pp_rank = 0;  // rank / tp

  // Throws slkv::Error when tp x pp differs from the world size (naming all three).
  static Topology make(int world_size, int rank, int tp, int pp);
  bool is_coordinator() const { return rank == 0; }
  bool first_stage() const { return pp_rank == 0; }
  bool last_stage() const { return pp_rank == pp - 1; }
  // World rank of grid position (pp_rank, tp_rank).
  int world_rank_of(int pp_rank_, int tp_rank_) const { return pp_rank_ * tp + tp_rank_; }
};

// Layers per stage: an even split, or `counts` (e.g. from --pp-layers 3,2),
// which must have pp positive entries summing to num_layers. Returns each
// stage's [begin, end).
std::vector<IndexRange> stage_layers(int64_t num_layers, int pp, const std::vector<int64_t>& counts = {});
// Parses "3,2" into {3, 2}; throws slkv::Error naming the text.
std::vector<int64_t> parse_layer_counts(const std::string& text);

// How one tensor-parallel rank slices the attention and MLP.
struct TensorSlice {
  int tp = 1;
  int tp_rank = 0;
  IndexRange q_heads;       // its query heads
  IndexRange kv_heads;      // its KV heads (one replicated head when tp > num_kv_heads)
  bool kv_replicated = false;
  IndexRange ffn;           // its rows of gate/up, columns of down
  IndexRange vocab;         // its rows of the embedding / lm_head
};

// Throws slkv::Error when the model's heads cannot be split tp ways (naming
// the head counts): num_heads % tp must be 0 and either num_kv_heads % tp == 0
// (KV heads split) or tp % num_kv_heads == 0 (each KV head replicated).
TensorSlice tensor_slice(const ModelConfig& config, int tp, int tp_rank);

}  // namespace slkv
