#include "launch/device_choice.h"

#include <cstdlib>
#include <string>

#include "runtime/error.h"
#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#endif

namespace slkv {
namespace {

#ifdef SLKV_HAVE_CUDA
// Ranks of this job on this node (Open MPI's mpirun sets it; 1 for a plain run).
int local_size_from_environment() {
  const char* value = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  return value && std::atoi(value) > 0 ? std::atoi(value) : 1;
}
#endif

}  // namespace

void add_device_option(cxxopts::Options& options) {
  options.add_options()("device", "auto, cpu or cuda (auto: cuda when a GPU is visible, else cpu)",
                        cxxopts::value<std::string>()->default_value("auto"));
}

std::string resolve_device(const std::string& requested) {
  if (requested != "auto" && requested != "cpu" && requested != "cuda")
    throw Error("--device must be auto, cpu or cuda, got '" + requested + "'");
#ifdef SLKV_HAVE_CUDA
  const int gpus = cuda_device_count();
  const int ranks_here = local_size_from_environment();
  if (requested == "cuda" && gpus == 0) throw Error("--device cuda: no CUDA device is visible to this process");
  // NCCL cannot put two ranks of one communicator on the same GPU.
  if (requested == "cuda" && ranks_here > gpus)
    throw Error("--device cuda: " + std::to_string(ranks_here) + " ranks on this node but " + std::to_string(gpus) +
                " GPU(s); each rank needs its own");
  if (requested == "auto") return gpus > 0 && ranks_here <= gpus ? "cuda" : "cpu";
  return requested;
#else
  if (requested == "cuda")
    throw Error("--device cuda: this build has no CUDA backend (configure with -DSLKV_CUDA=ON where nvcc exists)");
  return "cpu";
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& device, int cpu_threads) {
  if (device == "cpu") return make_cpu_backend(cpu_threads);
#ifdef SLKV_HAVE_CUDA
  if (device == "cuda") {
    select_cuda_device(local_rank_from_environment());
    return make_cuda_backend();
  }
#endif
  throw Error("no backend for device '" + device + "'");
}

}  // namespace slkv
