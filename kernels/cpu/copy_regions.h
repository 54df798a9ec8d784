#pragma once
// The batched copy on host memory: the CPU backend's copy_regions, and the
// KV cache's when it lives in host memory.
#include <span>

#include "kernels/backend.h"

namespace slkv::cpu {

// Copies the regions one after the other. A GPU runs them at once, so this
// holds callers to the contract: two regions whose destinations overlap, or
// a region overlapping its own source, are refused (SLKV_CHECK) before
// anything is copied.
void copy_regions(std::span<const CopyRegion> regions);

}  // namespace slkv::cpu
