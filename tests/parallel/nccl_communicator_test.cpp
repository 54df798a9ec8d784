// NcclCommunicator on one GPU (a one-rank group over MPI_COMM_SELF): the
// collectives' results on device memory. Skips without a CUDA build or device.
#include <gtest/gtest.h>

#include <vector>

#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_device.h"
#include "parallel/nccl_communicator.h"
#include "parallel/mpi_communicator.h"
#endif

namespace slkv {
namespace {

TEST(NcclCommunicator, OneRankCollectives) {
#ifndef SLKV_HAVE_CUDA
  GTEST_SKIP() << "built without CUDA (SLKV_CUDA=OFF or no nvcc): NCCL is not compiled";
#else
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible to this process";
  mpi_initialize(nullptr, nullptr);  // singleton MPI: the NCCL id travels over MPI_COMM_SELF
  NcclCommunicator comm(MPI_COMM_SELF);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_EQ(comm.rank(), 0);
  std::vector<float> host{1.f, 2.f, 3.f};
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, 6 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(device, host.data(), 3 * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  // A pageable-memory cudaMemcpy may return before its DMA lands; the communicator's stream does not wait for it.
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  comm.all_reduce_sum(device, 3);
  comm.broadcast(device, 3 * sizeof(float), 0);
  const int64_t counts[] = {3};
  comm.all_gather(device, device + 3, counts);
  comm.barrier();
  std::vector<float> back(6);
  ASSERT_EQ(cudaMemcpy(back.data(), device, 6 * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back, (std::vector<float>{1.f, 2.f, 3.f, 1.f, 2.f, 3.f}));
  double* sums = nullptr;
  const double values[] = {0.5, 0.25};
  ASSERT_EQ(cudaMalloc(&sums, sizeof values), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(sums, values, sizeof values, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  comm.all_reduce_sum(sums, 2);
  comm.reduce_sum(sums, 2, 0);
  double result[2];
  ASSERT_EQ(cudaMemcpy(result, sums, sizeof result, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(result[0], 0.5);
  EXPECT_EQ(result[1], 0.25);
  cudaFree(device);
  cudaFree(sums);
#endif
}

}  // namespace
}  // namespace slkv
