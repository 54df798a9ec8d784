#pragma once
// UploadRing: small per-op host->device copies (the KV span table of an
// attention call) enqueued on one stream without making the host wait for the
// GPU. Each copy goes through one of n slots of pinned host memory; a slot is
// rewritten only after its previous copy finished (an event per slot), and its
// device memory is rewritten by a copy on the same stream, so kernels enqueued
// earlier still read the old contents. Plain C++ header (no CUDA headers).
#include <cstddef>
#include <vector>

struct CUstream_st;
struct CUevent_st;

namespace slkv {

class UploadRing {
 public:
  UploadRing(CUstream_st* stream, int n_slots);
  ~UploadRing();
  UploadRing(const UploadRing&) = delete;
  UploadRing& operator=(const UploadRing&) = delete;

  // Enqueues a copy of `bytes` from `host` on the stream and returns its device
  // address, for kernels enqueued on the stream before the next n_slots uploads.
  // `host` may be reused as soon as this returns.
  const void* upload(const void* host, size_t bytes);

 private:
  struct Slot {
    void* host = nullptr;    // pinned
    void* device = nullptr;
    size_t capacity = 0;
    CUevent_st* copied = nullptr;  // recorded after the slot's last copy
  };
  void grow(Slot& slot, size_t bytes);

  CUstream_st* stream_;
  std::vector<Slot> slots_;
  size_t next_ = 0;
};

}  // namespace slkv
