#pragma once
// The logic of the device token draw (sampling_kernels.cu) as plain functions
// for host and device: the candidate key, and the bin a radix-selection pass
// picks. A host test runs the same passes with them against cpu::draw_token.
//
// Candidates are ordered by z descending, then id ascending (TokenDraw); that
// is the ascending order of a 64-bit key: a descending image of z's bits above
// the id. Each filter is "the first candidate, in key order, at which a
// running total reaches a target", found by eight passes, each over one key
// byte from the top: a 256-bin histogram of the candidates that match the
// bytes chosen so far, and the bin where the total crosses the target.
// C++17 and free of CUDA headers, like kernel_types.h.
#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define SLKV_HOST_DEVICE __host__ __device__
#else
#define SLKV_HOST_DEVICE
#endif

namespace slkv::cuda {

constexpr int kSelectBins = 256;
constexpr int kFirstShift = 56;  // the top key byte's shift; passes go down by 8 to 0
constexpr uint64_t kAllKeys = ~uint64_t(0);

// Ascending key order = candidate order.
SLKV_HOST_DEVICE inline uint64_t candidate_key(float z, int64_t id) {
  if (z == 0.f) z = 0.f;  // -0 and +0 compare equal as floats: give them one key
  uint32_t bits;
  memcpy(&bits, &z, sizeof bits);
  // Ascending image of the float order: flip all bits of negatives, the sign bit of the rest.
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (uint64_t(~ascending) << 32) | uint64_t(uint32_t(id));
}

// The key bits chosen by the passes before the one at `shift`.
SLKV_HOST_DEVICE inline uint64_t chosen_mask(int shift) {
  return shift == kFirstShift ? 0 : kAllKeys << (shift + 8);
}

struct BinChoice {
  int bin;        // the chosen key byte
  double before;  // the total of the bins before it
};

// The first bin at which the running total (weights when `weighted`, else
// counts) reaches `target`: total >= target when `inclusive`, total > target
// otherwise. When rounding leaves the target out of reach, the last
// non-empty bin, so the passes end on the last candidate.
SLKV_HOST_DEVICE inline BinChoice choose_bin(const unsigned* count, const double* weight, bool weighted,
                                             double target, bool inclusive) {
  double before = 0, before_last = 0;
  int last = -1;
  for (int b = 0; b < kSelectBins; ++b) {
    if (count[b] == 0) continue;
    const double after = before + (weighted ? weight[b] : double(count[b]));
    if (inclusive ? after >= target : after > target) return {b, before};
    last = b;
    before_last = before;
    before = after;
  }
  return {last, before_last};
}

}  // namespace slkv::cuda
