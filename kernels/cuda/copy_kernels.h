#pragma once
// Launcher of the batched copy (copy_kernels.cu): many small device-to-device
// copies in one kernel, e.g. the KV slots SnapKV keeps or the rows a forward
// pass reorders, instead of one cudaMemcpyAsync each.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/kernel_types.h"

namespace slkv::cuda {

// Copies every region of regions[0..n_regions) (a table in device memory).
// Regions must not overlap each other.
void launch_copy_regions(const DeviceCopyRegion* regions, int64_t n_regions, cudaStream_t stream);

}  // namespace slkv::cuda
