#pragma once
// How fast KV moves between a backend's memory and the offload manager's host
// memory (pinned under CUDA): the copies that parking and restoring issue, as
// Backend::copy_host_regions batches of `region_bytes` regions, timed in each
// direction. One region of the whole size gives the link's own figure.
// Every byte that comes back is checked, so a broken copy path throws
// instead of reporting a speed.
#include <cstdint>

#include "kernels/backend.h"

namespace slkv {

struct HostCopyBandwidth {
  double to_device_gbps = 0.0;  // host -> backend memory: what a restore moves
  double to_host_gbps = 0.0;    // backend memory -> host: what parking moves
};

// Median over `repeats` timed copies of `bytes`, split into regions of
// `region_bytes` (the last one shorter), after one untimed warm-up.
HostCopyBandwidth measure_host_copy_bandwidth(Backend& backend, int64_t bytes, int64_t region_bytes, int repeats = 5);

}  // namespace slkv
