#pragma once
// NcclCommunicator: the Communicator of the CUDA backend. Buffers are device
// pointers; calls are enqueued on the communicator's stream. On a stream of
// its own they are synchronised before returning; on a backend's compute
// stream they stay in stream order with the ops around them, and only
// barrier() waits. Only
// compiled when SLKV_HAVE_CUDA. Bootstrap as in llm.c's multi_gpu_config_init:
// the group's first rank creates the NCCL unique id and broadcasts it over MPI,
// then every rank calls ncclCommInitRank.
#include <cuda_runtime.h>
#include <memory>
#include <mpi.h>
#include <nccl.h>

#include "kernels/cuda/cuda_check.h"
#include "runtime/communicator.h"

namespace slkv {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `group` (an MPI communicator of the same ranks); uses the
  // current CUDA device and a stream of its own.
  explicit NcclCommunicator(MPI_Comm group);
  // The same, enqueuing on `stream` (not owned), e.g. a CudaBackend's compute
  // stream, so collectives are ordered with the ops around them.
  NcclCommunicator(MPI_Comm group, cudaStream_t stream);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  cudaStream_t stream() const { return stream_; }
  void all_reduce_sum(float* data, int64_t count) override;
  void all_reduce_sum(double* data, int64_t count) override;
  void reduce_sum(double* data, int64_t count, int root) override;
  void all_gather(const float* send, float* recv, std::span<const int64_t> counts) override;
  void broadcast(void* data, int64_t bytes, int root) override;
  void send(const void* data, int64_t bytes, int to, int tag) override;
  void recv(void* data, int64_t bytes, int from, int tag) override;
  void barrier() override;

 private:
  void synchronize();
  void finish();  // after a collective: waits only on a stream of its own
  void init(MPI_Comm group);

  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool owns_stream_ = false;
  int rank_ = 0, size_ = 1;
};

}  // namespace slkv
