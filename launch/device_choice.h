#pragma once
// --device: which backend a model-running subcommand uses. `auto` (the
// default) is cuda when this build has the CUDA backend and every rank on the
// node can have a GPU of its own, else cpu. Under mpirun each rank takes GPU
// local_rank % device_count (node_placement(): MPI's shared-memory communicator).
#include <cxxopts.hpp>
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace slkv {

// Adds --device and --threads (the CPU backend's threads, default_threads unless given).
void add_device_options(cxxopts::Options& options, int default_threads);

struct DeviceChoice {
  std::string device;  // "cpu" or "cuda": what --device resolved to on this machine
  int threads = 1;     // CPU threads
};

// Reads --device and --threads. Throws slkv::Error naming the flag: an
// unknown device, cuda without a CUDA build or a GPU per rank, threads < 1.
DeviceChoice device_choice(const cxxopts::ParseResult& args);

std::unique_ptr<Backend> make_backend(const DeviceChoice& choice);

}  // namespace slkv
