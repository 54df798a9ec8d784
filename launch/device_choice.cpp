#include "launch/device_choice.h"

#include <string>

#include "core/error.h"
#include "launch/cli_common.h"
#include "parallel/mpi_communicator.h"
#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#endif

namespace slkv {
namespace {

// "cpu" or "cuda": what --device (auto|cpu|cuda) means on this machine.
std::string resolve_device(const std::string& requested) {
  if (requested != "auto" && requested != "cpu" && requested != "cuda")
    throw Error("--device must be auto, cpu or cuda, got '" + requested + "'");
#ifdef SLKV_HAVE_CUDA
  const int gpus = cuda_device_count();
  const int ranks_here = node_placement().local_size;  // ranks of this job on this node, 1 for a plain run
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

}  // namespace

void add_device_options(cxxopts::Options& options, int default_threads) {
  // The shown default is this machine's core count: say where it comes from.
  const std::string threads_help =
      default_threads == default_thread_count() ? "CPU threads, by default one per core available here" : "CPU threads";
  options.add_options()("device", "auto, cpu or cuda (auto: cuda when every rank here has a GPU, else cpu)",
                        cxxopts::value<std::string>()->default_value("auto"))(
      "threads", threads_help, cxxopts::value<int>()->default_value(std::to_string(default_threads)));
}

DeviceChoice device_choice(const cxxopts::ParseResult& args) {
  DeviceChoice choice{resolve_device(args["device"].as<std::string>()), args["threads"].as<int>()};
  if (choice.threads < 1) throw Error("--threads must be >= 1, got " + std::to_string(choice.threads));
  return choice;
}

std::unique_ptr<Backend> make_backend(const DeviceChoice& choice) {
  if (choice.device == "cpu") return make_cpu_backend(choice.threads);
#ifdef SLKV_HAVE_CUDA
  if (choice.device == "cuda") {
    select_cuda_device(node_placement().local_rank);
    return make_cuda_backend();
  }
#endif
  throw Error("no backend for device '" + choice.device + "'");
}

}  // namespace slkv
