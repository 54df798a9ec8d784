// Device discovery for the CUDA backend: how many GPUs this process can use.
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_device.h"

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

}  // namespace slkv
