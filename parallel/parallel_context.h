#pragma once
// ParallelContext: one rank's view of a tp x pp job over MPI: the grid, its
// TP and PP communicators, its layer range and tensor slice, and the
// coordinator protocol (DistributedSync): logits to rank 0, sampled tokens
// and lazy-layer decisions from rank 0 to every rank.
#include <memory>
#include <vector>

#include "parallel/mpi_communicator.h"
#include "parallel/topology.h"
#include "runtime/distributed_sync.h"

namespace slkv {

class ParallelContext final : public DistributedSync {
 public:
  // Collective over MPI_COMM_WORLD: splits it into the TP and PP groups.
  ParallelContext(const Topology& topology, std::vector<IndexRange> stages, const TensorSlice& slice);

  const Topology& topology() const { return topology_; }
  const TensorSlice& slice() const { return slice_; }
  const std::vector<IndexRange>& stages() const { return stages_; }
  IndexRange layers() const { return stages_[topology_.pp_rank]; }
  Communicator& world() { return *world_; }
  Communicator& tp() { return *tp_; }
  Communicator& pp() { return *pp_; }
  // The MPI groups behind tp() and pp(), for device communicators over the same ranks.
  MPI_Comm tp_group() const { return tp_->handle(); }
  MPI_Comm pp_group() const { return pp_->handle(); }

  // Coordinator -> every rank: a vector whose size only the root knows.
  void broadcast_ints(std::vector<int32_t>& values);
  void broadcast_u64(uint64_t& value);

  bool is_coordinator() const override { return topology_.is_coordinator(); }
  bool owns_layer(int64_t layer) const override { return layers().contains(layer); }
  void logits_to_coordinator(std::vector<float>& logits, int64_t rows, int64_t vocab) override;
  void broadcast_tokens(std::vector<int32_t>& tokens) override;
  void before_decode_step(int64_t step) override;
  void gather_scores(std::vector<double>& values) override;
  void broadcast_decisions(std::vector<double>& buffer) override;
  void reduce_key_mass(std::vector<float>& key_mass) override;

 private:
  Topology topology_;
  std::vector<IndexRange> stages_;
  TensorSlice slice_;
  std::unique_ptr<MpiCommunicator> world_, tp_, pp_, kv_group_;
};

}  // namespace slkv
