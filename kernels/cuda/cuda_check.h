#pragma once
// Error checks for CUDA runtime, cuBLAS and NCCL calls: a failed call throws
// slkv::InternalError "FILE:LINE: CALL failed: WHY". C++17-clean, so .cu files
// (compiled by nvcc as C++17) can use it too. CUBLAS_CHECK needs <cublas_v2.h>
// and NCCL_CHECK <nccl.h> included where they are used.
#include <cuda_runtime.h>

namespace slkv {

// Throws slkv::InternalError; defined in cuda_check.cpp (host code).
[[noreturn]] void cuda_fail(const char* call, const char* why, const char* file, int line);

}  // namespace slkv

#define CUDA_CHECK(call)                                                                           \
  do {                                                                                             \
    cudaError_t cuda_check_status_ = (call);                                                       \
    if (cuda_check_status_ != cudaSuccess)                                                         \
      ::slkv::cuda_fail(#call, cudaGetErrorString(cuda_check_status_), __FILE__, __LINE__);        \
  } while (0)

#define CUBLAS_CHECK(call)                                                                         \
  do {                                                                                             \
    cublasStatus_t cublas_check_status_ = (call);                                                  \
    if (cublas_check_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::slkv::cuda_fail(#call, cublasGetStatusString(cublas_check_status_), __FILE__, __LINE__);   \
  } while (0)

#define NCCL_CHECK(call)                                                                           \
  do {                                                                                             \
    ncclResult_t nccl_check_status_ = (call);                                                      \
    if (nccl_check_status_ != ncclSuccess)                                                         \
      ::slkv::cuda_fail(#call, ncclGetErrorString(nccl_check_status_), __FILE__, __LINE__);        \
  } while (0)

// After a kernel launch: reports bad launch configurations at once (the
// kernel's own faults surface at the next synchronising call).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
