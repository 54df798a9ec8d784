#pragma once
// ParallelContext: one rank's MPI groups in a tp x pp job: the world, its
// TP group (the ranks of its stage), its PP group (its tp_rank across the
// stages) and the ranks of its stage that hold the same replicated KV head.
// The protocol over them is parallel/coordinator.h's.
#include <memory>

#include "parallel/mpi_communicator.h"
#include "parallel/topology.h"

namespace slkv {

class ParallelContext {
 public:
  // Collective over MPI_COMM_WORLD: splits it into the groups.
  ParallelContext(const Topology& topology, const TensorSlice& slice);

  const Topology& topology() const { return topology_; }
  Communicator& world() { return *world_; }
  Communicator& tp() { return *tp_; }
  Communicator& pp() { return *pp_; }
  Communicator& kv_group() { return *kv_group_; }
  bool kv_replicated() const { return kv_replicated_; }
  // The MPI groups behind tp() and pp(), for device communicators over the same ranks.
  MPI_Comm tp_group() const { return tp_->handle(); }
  MPI_Comm pp_group() const { return pp_->handle(); }

 private:
  Topology topology_;
  bool kv_replicated_ = false;
  std::unique_ptr<MpiCommunicator> world_, tp_, pp_, kv_group_;
};

}  // namespace slkv
