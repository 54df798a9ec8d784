#pragma once
// DeviceBuffer: an owned cudaMalloc'ed buffer with blocking upload/download,
// for tests and for loading data onto the GPU. Plain C++ header (no CUDA
// headers), so g++-compiled code can hold device data. Transfers wait for the
// whole device first and are complete on return, so they are safe next to
// work enqueued on any stream (e.g. a CudaBackend's).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace slkv {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);  // uninitialised device memory
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // A buffer holding a copy of `values`.
  template <typename T>
  static DeviceBuffer from(const std::vector<T>& values) {
    DeviceBuffer buffer(values.size() * sizeof(T));
    buffer.upload(values.data(), values.size() * sizeof(T));
    return buffer;
  }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data_);
  }
  size_t bytes() const { return bytes_; }

  // Copies `bytes` (<= bytes()) between host memory and the buffer's start.
  void upload(const void* host, size_t bytes);
  void download(void* host, size_t bytes) const;
  // Sets every byte to zero.
  void zero();

  // The first `count` elements as a host vector.
  template <typename T>
  std::vector<T> to_host(size_t count) const {
    std::vector<T> values(count);
    download(values.data(), count * sizeof(T));
    return values;
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace slkv
