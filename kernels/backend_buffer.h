#pragma once
// BackendBuffer: an owned allocation in a backend's memory (host memory for
// the CPU backend, device memory for CUDA), released when it goes away.
// Scratch buffers grow with reserve() and keep their capacity.
// Host-memory backends get allocate_host_memory()'s memory, which does not
// refer to the backend, so such a buffer may outlive it; a GPU backend must
// outlive its buffers.
#include <cstdint>
#include <new>
#include <utility>

#include "core/host_memory.h"
#include "kernels/backend.h"

namespace slkv {

class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(Backend& backend, int64_t bytes) { reserve(backend, bytes); }
  ~BackendBuffer() { reset(); }
  BackendBuffer(BackendBuffer&& other) noexcept { *this = std::move(other); }
  BackendBuffer& operator=(BackendBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      std::swap(backend_, other.backend_);
      std::swap(host_, other.host_);
      std::swap(data_, other.data_);
      std::swap(bytes_, other.bytes_);
    }
    return *this;
  }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;

  // At least `bytes` bytes in `backend`'s memory; the contents are not kept
  // when it has to grow (or move to another backend).
  void reserve(Backend& backend, int64_t bytes) {
    const bool host = backend.uses_host_memory();
    if (data_ && bytes <= bytes_ && (host ? host_ : backend_ == &backend)) return;
    reset();
    if (host) {
      // Huge pages from 2 MiB on, as CpuBackend::allocate gives (weights
      // and KV are read from these buffers).
      data_ = allocate_host_memory(bytes);
      if (!data_) throw std::bad_alloc();
      host_ = true;
    } else {
      data_ = backend.allocate(bytes > 0 ? bytes : 1);
      backend_ = &backend;
    }
    bytes_ = bytes;
  }
  void reset() {
    if (host_)
      free_host_memory(data_);
    else if (backend_)
      backend_->release(data_);
    backend_ = nullptr;
    host_ = false;
    data_ = nullptr;
    bytes_ = 0;
  }

  void* data() const { return data_; }
  float* floats() const { return static_cast<float*>(data_); }
  int32_t* ints() const { return static_cast<int32_t*>(data_); }
  int64_t bytes() const { return bytes_; }

 private:
  Backend* backend_ = nullptr;  // the GPU backend that allocated data_
  bool host_ = false;           // data_ is aligned host memory
  void* data_ = nullptr;
  int64_t bytes_ = 0;
};

}  // namespace slkv
