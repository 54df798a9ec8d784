// Device discovery for the CUDA backend: how many GPUs this process can use,
// and which one a rank takes.
#include "kernels/cuda/cuda_device.h"

#include <cuda_runtime.h>

#include <cstdlib>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "core/error.h"

namespace slkv {

int cuda_device_count() {
  int count = 0;
  // No driver or no device both mean "no usable GPU" for the CLI's default.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error state
    return 0;
  }
  return count;
}

int select_cuda_device(int local_rank) {
  SLKV_CHECK(local_rank >= 0, "local rank " << local_rank);
  const int count = cuda_device_count();
  if (count == 0) throw Error("no CUDA device is visible to this process (check the driver and CUDA_VISIBLE_DEVICES)");
  const int device = local_rank % count;
  CUDA_CHECK(cudaSetDevice(device));
  return device;
}

}  // namespace slkv
