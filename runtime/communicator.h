#pragma once
// Communicator: the collectives a tensor/pipeline-parallel forward needs, over
// one group of ranks. MpiCommunicator (parallel/mpi_communicator.h) works on
// host memory; NcclCommunicator (kernels/cuda/nccl_communicator.h) on device
// memory. Every call is collective over the group unless it says otherwise.
#include <cstdint>
#include <span>

namespace slkv {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // this process's index in the group
  virtual int size() const = 0;  // ranks in the group

  // data[i] = sum over ranks of data[i].
  virtual void all_reduce_sum(float* data, int64_t count) = 0;
  virtual void all_reduce_sum(double* data, int64_t count) = 0;
  // data[i] on `root` = sum over ranks; other ranks' data is left unspecified.
  virtual void reduce_sum(double* data, int64_t count, int root) = 0;
  // recv = concatenation over ranks r of their `counts[r]` elements (send holds counts[rank()]).
  virtual void all_gather(const float* send, float* recv, std::span<const int64_t> counts) = 0;
  // Copies `bytes` from root's data to every rank's data.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  // Point to point (not collective).
  virtual void send(const void* data, int64_t bytes, int to, int tag) = 0;
  virtual void recv(void* data, int64_t bytes, int from, int tag) = 0;
  virtual void barrier() = 0;
};

}  // namespace slkv
