#pragma once
// Topology: where a rank sits in the tp x pp grid (FasterTransformer /
// TensorRT-LLM layout: pp_rank = rank / tp, tp_rank = rank % tp), and which
// layers its pipeline stage runs (runtime/model_shard.h has the tensor-parallel
// slice). Pure arithmetic, checked before any weight is loaded.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model_shard.h"

namespace slkv {

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

}  // namespace slkv
