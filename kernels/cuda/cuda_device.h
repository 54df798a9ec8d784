#pragma once
// CUDA device discovery; only compiled when SLKV_HAVE_CUDA.
namespace slkv {
// Number of CUDA devices visible to this process (0 without a driver).
int cuda_device_count();
}  // namespace slkv
