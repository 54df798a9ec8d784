#include "parallel/nccl_communicator.h"

#include <string>
#include <vector>

#include "core/error.h"

namespace slkv {

NcclCommunicator::NcclCommunicator(MPI_Comm group) {
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  owns_stream_ = true;
  try {
    init(group);
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
}

NcclCommunicator::NcclCommunicator(MPI_Comm group, cudaStream_t stream) : stream_(stream) {
  SLKV_CHECK(stream != nullptr, "NcclCommunicator needs a stream");
  init(group);
}

void NcclCommunicator::init(MPI_Comm group) {
  MPI_Comm_rank(group, &rank_);
  MPI_Comm_size(group, &size_);
  ncclUniqueId id;
  if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  if (MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, group) != MPI_SUCCESS)
    throw InternalError("MPI_Bcast of the NCCL unique id failed");
  NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_) ncclCommDestroy(comm_);
  if (stream_ && owns_stream_) cudaStreamDestroy(stream_);
}

void NcclCommunicator::synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

void NcclCommunicator::finish() {
  // On a shared stream, whatever reads the result is enqueued after the
  // collective, and a copy to the host waits for it: no host wait is needed.
  if (owns_stream_) synchronize();
}

void NcclCommunicator::all_reduce_sum(float* data, int64_t count) {
  NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(count), ncclFloat32, ncclSum, comm_, stream_));
  finish();
}

void NcclCommunicator::all_reduce_sum(double* data, int64_t count) {
  NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(count), ncclFloat64, ncclSum, comm_, stream_));
  finish();
}

void NcclCommunicator::reduce_sum(double* data, int64_t count, int root) {
  NCCL_CHECK(ncclReduce(data, data, static_cast<size_t>(count), ncclFloat64, ncclSum, root, comm_, stream_));
  finish();
}

void NcclCommunicator::all_gather(const float* send, float* recv, std::span<const int64_t> counts) {
  SLKV_CHECK(static_cast<int>(counts.size()) == size_, "one count per rank");
  bool equal = true;
  for (int64_t c : counts) equal = equal && c == counts[0];
  if (equal) {
    NCCL_CHECK(ncclAllGather(send, recv, static_cast<size_t>(counts[0]), ncclFloat32, comm_, stream_));
  } else {
    // Uneven parts: one broadcast per rank, grouped into one launch.
    NCCL_CHECK(ncclGroupStart());
    int64_t offset = 0;
    for (int r = 0; r < size_; ++r) {
      NCCL_CHECK(ncclBroadcast(r == rank_ ? send : recv + offset, recv + offset, static_cast<size_t>(counts[r]),
                               ncclFloat32, r, comm_, stream_));
      offset += counts[r];
    }
    NCCL_CHECK(ncclGroupEnd());
  }
  finish();
}

void NcclCommunicator::broadcast(void* data, int64_t bytes, int root) {
  NCCL_CHECK(ncclBroadcast(data, data, static_cast<size_t>(bytes), ncclUint8, root, comm_, stream_));
  finish();
}

void NcclCommunicator::send(const void* data, int64_t bytes, int to, int) {
  NCCL_CHECK(ncclSend(data, static_cast<size_t>(bytes), ncclUint8, to, comm_, stream_));
  finish();
}

void NcclCommunicator::recv(void* data, int64_t bytes, int from, int) {
  NCCL_CHECK(ncclRecv(data, static_cast<size_t>(bytes), ncclUint8, from, comm_, stream_));
  finish();
}

void NcclCommunicator::barrier() {
  // An all-reduce of one float is NCCL's barrier.
  float* scratch = nullptr;
  CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&scratch), sizeof(float), stream_));
  CUDA_CHECK(cudaMemsetAsync(scratch, 0, sizeof(float), stream_));
  NCCL_CHECK(ncclAllReduce(scratch, scratch, 1, ncclFloat32, ncclSum, comm_, stream_));
  CUDA_CHECK(cudaFreeAsync(scratch, stream_));
  synchronize();
}

}  // namespace slkv
