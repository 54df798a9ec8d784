#include "kernels/cuda/device_buffer.h"

#include <cuda_runtime.h>

#include <utility>

#include "kernels/cuda/cuda_check.h"
#include "core/error.h"

namespace slkv {

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) CUDA_CHECK(cudaMalloc(&data_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);  // cudaFree waits for work still using the buffer
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes) {
  SLKV_CHECK(bytes <= bytes_, "uploading " << bytes << " bytes into a device buffer of " << bytes_);
  if (bytes == 0) return;
  // Other streams may still read the old contents; a pageable copy may return
  // before its DMA ends: synchronise on both sides.
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(data_, host, bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());
}

void DeviceBuffer::download(void* host, size_t bytes) const {
  SLKV_CHECK(bytes <= bytes_, "downloading " << bytes << " bytes from a device buffer of " << bytes_);
  if (bytes == 0) return;
  CUDA_CHECK(cudaDeviceSynchronize());  // results of work on any stream
  CUDA_CHECK(cudaMemcpy(host, data_, bytes, cudaMemcpyDeviceToHost));
}

void DeviceBuffer::zero() {
  if (bytes_ == 0) return;
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemset(data_, 0, bytes_));
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace slkv
