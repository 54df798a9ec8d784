// The batched copy: one block per region (grid-stride over regions), copying
// in the widest unit that the region's addresses and size allow.
#include "kernels/cuda/copy_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"

namespace slkv::cuda {
namespace {

constexpr int kThreads = 128;

template <typename Unit>
__device__ void copy_units(void* dst, const void* src, int64_t bytes) {
  Unit* to = static_cast<Unit*>(dst);
  const Unit* from = static_cast<const Unit*>(src);
  const int64_t n = bytes / int64_t(sizeof(Unit));
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) to[i] = from[i];
}

__global__ void __launch_bounds__(kThreads) copy_regions_kernel(const DeviceCopyRegion* regions, int64_t n_regions) {
  for (int64_t r = blockIdx.x; r < n_regions; r += gridDim.x) {
    const DeviceCopyRegion region = regions[r];
    const uint64_t alignment =
        reinterpret_cast<uint64_t>(region.dst) | reinterpret_cast<uint64_t>(region.src) | uint64_t(region.bytes);
    if (alignment % 16 == 0)
      copy_units<int4>(region.dst, region.src, region.bytes);
    else if (alignment % 4 == 0)
      copy_units<int32_t>(region.dst, region.src, region.bytes);
    else
      copy_units<char>(region.dst, region.src, region.bytes);
  }
}

}  // namespace

void launch_copy_regions(const DeviceCopyRegion* regions, int64_t n_regions, cudaStream_t stream) {
  if (n_regions <= 0) return;
  constexpr int64_t kMaxBlocks = 65535;
  const unsigned blocks = unsigned(n_regions < kMaxBlocks ? n_regions : kMaxBlocks);
  copy_regions_kernel<<<blocks, kThreads, 0, stream>>>(regions, n_regions);
  CUDA_CHECK_LAUNCH();
}

}  // namespace slkv::cuda
