#include "parallel/parallel_context.h"

#include "core/error.h"

namespace slkv {

ParallelContext::ParallelContext(const Topology& topology, const TensorSlice& slice)
    : topology_(topology), kv_replicated_(slice.kv_replicated) {
  world_ = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, false);
  SLKV_CHECK(world_->size() == topology_.world_size && world_->rank() == topology_.rank, "topology matches MPI");
  // TP group: the ranks of one stage; PP group: one tp_rank across the stages.
  tp_ = MpiCommunicator::split(MPI_COMM_WORLD, topology_.pp_rank, topology_.tp_rank);
  pp_ = MpiCommunicator::split(MPI_COMM_WORLD, topology_.tp_rank, topology_.pp_rank);
  // Ranks of one stage that hold the same replicated KV head.
  kv_group_ = MpiCommunicator::split(tp_->handle(), static_cast<int>(slice.kv_heads.begin), topology_.tp_rank);
}

}  // namespace slkv
