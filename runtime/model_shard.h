#pragma once
// ModelShard: the part of the model one rank of a tensor/pipeline-parallel
// job runs: its stage's layers and its tensor-parallel slice of heads, FFN
// rows and vocabulary (Megatron split), plus the groups its forward pass talks
// to. Pure arithmetic; parallel/topology.h places the rank in the grid.
#include <cstdint>

#include "runtime/checkpoint/model_config.h"
#include "runtime/communicator.h"

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

// The part of the model one rank of a tensor/pipeline-parallel job runs.
// The default is the whole model on one process.
struct ModelShard {
  int tp = 1;
  int tp_rank = 0;
  int pp = 1;
  int pp_rank = 0;
  IndexRange layers{0, -1};        // this stage's layers; end -1 = all
  Communicator* tp_comm = nullptr;  // the stage's TP group (required when tp > 1)
  Communicator* pp_comm = nullptr;  // this tp_rank across the stages (required when pp > 1)

  bool first_stage() const { return pp_rank == 0; }
  bool last_stage() const { return pp_rank == pp - 1; }
};

}  // namespace slkv
