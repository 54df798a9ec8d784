#include "parallel/parallel_context.h"

#include "parallel/fault_injection.h"
#include "core/error.h"

namespace slkv {
namespace {
constexpr int kLogitsTag = 101;
}

ParallelContext::ParallelContext(const Topology& topology, std::vector<IndexRange> stages, const TensorSlice& slice)
    : topology_(topology), stages_(std::move(stages)), slice_(slice) {
  SLKV_CHECK(static_cast<int>(stages_.size()) == topology_.pp, "one layer range per stage");
  world_ = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, false);
  SLKV_CHECK(world_->size() == topology_.world_size && world_->rank() == topology_.rank, "topology matches MPI");
  // TP group: the ranks of one stage; PP group: one tp_rank across the stages.
  tp_ = MpiCommunicator::split(MPI_COMM_WORLD, topology_.pp_rank, topology_.tp_rank);
  pp_ = MpiCommunicator::split(MPI_COMM_WORLD, topology_.tp_rank, topology_.pp_rank);
  // Ranks of one stage that hold the same replicated KV head.
  kv_group_ = MpiCommunicator::split(tp_->handle(), static_cast<int>(slice_.kv_heads.begin), topology_.tp_rank);
}

void ParallelContext::broadcast_ints(std::vector<int32_t>& values) {
  int64_t count = static_cast<int64_t>(values.size());
  world_->broadcast(&count, sizeof count, 0);
  values.resize(count);
  if (count > 0) world_->broadcast(values.data(), count * static_cast<int64_t>(sizeof(int32_t)), 0);
}

void ParallelContext::broadcast_u64(uint64_t& value) { world_->broadcast(&value, sizeof value, 0); }

void ParallelContext::logits_to_coordinator(std::vector<float>& logits, int64_t rows, int64_t vocab) {
  // The last stage's TP ranks all hold the gathered logits; its tp_rank 0
  // sends them down the PP group of tp_rank 0, whose pp_rank 0 is rank 0.
  if (topology_.pp == 1 || topology_.tp_rank != 0) return;
  const int64_t bytes = rows * vocab * static_cast<int64_t>(sizeof(float));
  if (topology_.last_stage()) {
    SLKV_CHECK(static_cast<int64_t>(logits.size()) == rows * vocab, "last stage logits");
    pp_->send(logits.data(), bytes, 0, kLogitsTag);
  } else if (topology_.first_stage()) {
    logits.resize(rows * vocab);
    pp_->recv(logits.data(), bytes, topology_.pp - 1, kLogitsTag);
  }
}

void ParallelContext::broadcast_tokens(std::vector<int32_t>& tokens) {
  if (!tokens.empty()) world_->broadcast(tokens.data(), static_cast<int64_t>(tokens.size() * sizeof(int32_t)), 0);
}

void ParallelContext::before_decode_step(int64_t step) { maybe_inject_failure("decode", topology_.rank, step); }

void ParallelContext::gather_scores(std::vector<double>& values) {
  const int64_t count = static_cast<int64_t>(values.size());
  tp_->all_reduce_sum(values.data(), count);  // each TP rank saw only its heads
  // Stages hold disjoint layers (zeros elsewhere): summing assembles them.
  if (topology_.tp_rank == 0) pp_->reduce_sum(values.data(), count, 0);
}

void ParallelContext::broadcast_decisions(std::vector<double>& buffer) {
  world_->broadcast(buffer.data(), static_cast<int64_t>(buffer.size() * sizeof(double)), 0);
}

void ParallelContext::reduce_key_mass(std::vector<float>& key_mass) {
  if (!slice_.kv_replicated) return;  // split KV heads: selection is local to the rank
  kv_group_->all_reduce_sum(key_mass.data(), static_cast<int64_t>(key_mass.size()));
}

}  // namespace slkv
