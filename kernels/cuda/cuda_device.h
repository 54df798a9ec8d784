#pragma once
// CUDA device discovery and per-rank selection; only compiled when
// SLKV_HAVE_CUDA. Plain C++ (no CUDA headers), so any module may include it.
namespace slkv {

// Number of CUDA devices visible to this process (0 without a driver).
int cuda_device_count();

// Makes device local_rank % cuda_device_count() current for the calling
// thread and returns it, so ranks sharing a node spread over its GPUs.
// Throws slkv::Error when no device is visible.
int select_cuda_device(int local_rank);

}  // namespace slkv
