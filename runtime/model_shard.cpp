#include "runtime/model_shard.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace slkv {

IndexRange split_evenly(int64_t n, int64_t parts, int64_t index) {
  SLKV_CHECK(parts > 0 && index >= 0 && index < parts, "part " << index << " of " << parts);
  const int64_t base = n / parts, extra = n % parts;
  const int64_t begin = index * base + std::min(index, extra);
  return IndexRange{begin, begin + base + (index < extra ? 1 : 0)};
}

TensorSlice tensor_slice(const ModelConfig& config, int tp, int tp_rank) {
  const std::string heads = "num_attention_heads " + std::to_string(config.num_heads) + ", num_key_value_heads " +
                            std::to_string(config.num_kv_heads);
  if (config.num_heads % tp != 0)
    throw Error("--tp " + std::to_string(tp) + " does not divide the model's query heads (" + heads + ")");
  TensorSlice slice;
  slice.tp = tp;
  slice.tp_rank = tp_rank;
  const int64_t heads_per_rank = config.num_heads / tp;
  slice.q_heads = IndexRange{tp_rank * heads_per_rank, (tp_rank + 1) * heads_per_rank};
  if (config.num_kv_heads % tp == 0) {
    const int64_t kv_per_rank = config.num_kv_heads / tp;
    slice.kv_heads = IndexRange{tp_rank * kv_per_rank, (tp_rank + 1) * kv_per_rank};
  } else if (tp % config.num_kv_heads == 0) {
    // Each rank takes the one KV head its query heads attend with (GQA group).
    const int64_t ranks_per_kv = tp / config.num_kv_heads;
    slice.kv_heads = IndexRange{tp_rank / ranks_per_kv, tp_rank / ranks_per_kv + 1};
    slice.kv_replicated = true;
  } else {
    throw Error("--tp " + std::to_string(tp) + " is incompatible with the model's KV heads (" + heads +
                "): num_key_value_heads must be a multiple of tp, or tp a multiple of num_key_value_heads");
  }
  slice.ffn = split_evenly(config.intermediate_size, tp, tp_rank);
  slice.vocab = split_evenly(config.vocab_size, tp, tp_rank);
  return slice;
}

}  // namespace slkv
