#pragma once
// --device: which backend a model-running subcommand uses. `auto` (the
// default) is cuda when this build has the CUDA backend and every rank on the
// node can have a GPU of its own, else cpu. Under mpirun each rank takes GPU
// local_rank % device_count.
#include <cxxopts.hpp>
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace slkv {

void add_device_option(cxxopts::Options& options);

// "cpu" or "cuda": what --device (auto|cpu|cuda) resolves to on this machine.
// Throws slkv::Error for an unknown name, or cuda without a CUDA build or GPU.
std::string resolve_device(const std::string& requested);

// The backend for a resolved device; cpu_threads is the CPU backend's thread count.
std::unique_ptr<Backend> make_backend(const std::string& device, int cpu_threads);

}  // namespace slkv
