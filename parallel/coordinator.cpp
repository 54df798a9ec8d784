#include "parallel/coordinator.h"

#include <algorithm>

#include "core/error.h"
#include "parallel/fault_injection.h"

namespace slkv {
namespace {
constexpr int kLogitsTag = 101;
}

void Coordinator::broadcast_words(std::vector<int64_t>& words) {
  int64_t count = static_cast<int64_t>(words.size());
  context_.world().broadcast(&count, sizeof count, 0);
  words.resize(count);
  if (count > 0) context_.world().broadcast(words.data(), count * static_cast<int64_t>(sizeof(int64_t)), 0);
}

int64_t Coordinator::max_over_ranks(int64_t value) {
  // The all-reduce sums doubles: exact for the block counts this carries.
  const int world = context_.topology().world_size;
  std::vector<double> values(world, 0.0);
  values[context_.topology().rank] = static_cast<double>(value);
  context_.world().all_reduce_sum(values.data(), world);
  return static_cast<int64_t>(*std::max_element(values.begin(), values.end()));
}

void Coordinator::before_step(int64_t step) { maybe_inject_failure("decode", context_.topology().rank, step); }

void Coordinator::logits_to_coordinator(std::vector<float>& logits, int64_t rows, int64_t vocab) {
  // The last stage's TP ranks all hold the gathered logits; its tp_rank 0
  // sends them down the PP group of tp_rank 0, whose pp_rank 0 is rank 0.
  const Topology& topology = context_.topology();
  if (topology.pp == 1 || topology.tp_rank != 0) return;
  const int64_t bytes = rows * vocab * static_cast<int64_t>(sizeof(float));
  if (topology.last_stage()) {
    SLKV_CHECK(static_cast<int64_t>(logits.size()) == rows * vocab, "last stage logits");
    context_.pp().send(logits.data(), bytes, 0, kLogitsTag);
  } else if (topology.first_stage()) {
    logits.resize(rows * vocab);
    context_.pp().recv(logits.data(), bytes, topology.pp - 1, kLogitsTag);
  }
}

void Coordinator::gather_scores(std::vector<double>& values) {
  const int64_t count = static_cast<int64_t>(values.size());
  context_.tp().all_reduce_sum(values.data(), count);  // each TP rank saw only its heads
  // Stages hold disjoint layers (zeros elsewhere): summing assembles them.
  if (context_.topology().tp_rank == 0) context_.pp().reduce_sum(values.data(), count, 0);
}

void Coordinator::broadcast_decisions(std::vector<double>& buffer) {
  context_.world().broadcast(buffer.data(), static_cast<int64_t>(buffer.size() * sizeof(double)), 0);
}

void Coordinator::reduce_key_mass(std::vector<float>& key_mass) {
  if (!context_.kv_replicated()) return;  // split KV heads: selection is local to the rank
  context_.kv_group().all_reduce_sum(key_mass.data(), static_cast<int64_t>(key_mass.size()));
}

void Coordinator::merge_kv_report(KvReport& kv) {
  const size_t layers = kv.kv_tokens_per_layer.size();
  std::vector<double> sums(layers + 7, 0.0);
  // Tokens per layer: one TP rank of every stage (stages hold disjoint
  // layers, TP ranks of a stage the same tokens); bytes and blocks: every rank.
  if (context_.topology().tp_rank == 0)
    for (size_t l = 0; l < layers; ++l) sums[l] = static_cast<double>(kv.kv_tokens_per_layer[l]);
  sums[layers] = static_cast<double>(kv.kv_bytes);
  sums[layers + 1] = static_cast<double>(kv.kv_bytes_full);
  sums[layers + 2] = static_cast<double>(kv.kv_blocks);
  // Offload: every rank parks its own slice.
  sums[layers + 3] = static_cast<double>(kv.offload.bytes_parked);
  sums[layers + 4] = static_cast<double>(kv.offload.bytes_restored);
  sums[layers + 5] = static_cast<double>(kv.offload.bytes_evicted);
  sums[layers + 6] = static_cast<double>(kv.offload.bytes_held);
  context_.world().all_reduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
  for (size_t l = 0; l < layers; ++l) kv.kv_tokens_per_layer[l] = static_cast<int64_t>(sums[l]);
  kv.kv_bytes = static_cast<int64_t>(sums[layers]);
  kv.kv_bytes_full = static_cast<int64_t>(sums[layers + 1]);
  kv.kv_blocks = static_cast<int64_t>(sums[layers + 2]);
  kv.offload.bytes_parked = static_cast<int64_t>(sums[layers + 3]);
  kv.offload.bytes_restored = static_cast<int64_t>(sums[layers + 4]);
  kv.offload.bytes_evicted = static_cast<int64_t>(sums[layers + 5]);
  kv.offload.bytes_held = static_cast<int64_t>(sums[layers + 6]);
  kv.compression_ratio = kv.kv_bytes > 0 ? static_cast<double>(kv.kv_bytes_full) / kv.kv_bytes : 1.0;
}

void Coordinator::broadcast_token_lists(std::vector<std::vector<int32_t>>& lists) {
  // Packed as [count, len0, ids0..., len1, ids1...].
  std::vector<int32_t> packed{static_cast<int32_t>(lists.size())};
  for (const auto& tokens : lists) {
    packed.push_back(static_cast<int32_t>(tokens.size()));
    packed.insert(packed.end(), tokens.begin(), tokens.end());
  }
  broadcast_ints(packed);
  lists.assign(packed[0], {});
  size_t at = 1;
  for (auto& tokens : lists) {
    tokens.assign(packed.begin() + at + 1, packed.begin() + at + 1 + packed[at]);
    at += 1 + packed[at];
  }
}

void Coordinator::broadcast_ints(std::vector<int32_t>& values) {
  int64_t count = static_cast<int64_t>(values.size());
  context_.world().broadcast(&count, sizeof count, 0);
  values.resize(count);
  if (count > 0) context_.world().broadcast(values.data(), count * static_cast<int64_t>(sizeof(int32_t)), 0);
}

void Coordinator::broadcast_u64(uint64_t& value) { context_.world().broadcast(&value, sizeof value, 0); }

std::vector<double> Coordinator::per_rank_values(double mine) {
  const Topology& topology = context_.topology();
  std::vector<double> values(topology.world_size, 0.0);
  values[topology.rank] = mine;
  context_.world().all_reduce_sum(values.data(), topology.world_size);
  return values;
}

}  // namespace slkv
