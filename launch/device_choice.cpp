#include "launch/device_choice.h"

#include "runtime/error.h"
#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_device.h"
#endif

namespace slkv {

void add_device_option(cxxopts::Options& options) {
  options.add_options()("device", "auto, cpu or cuda (auto: cuda when a GPU is visible, else cpu)",
                        cxxopts::value<std::string>()->default_value("auto"));
}

std::string resolve_device(const std::string& requested) {
  if (requested != "auto" && requested != "cpu" && requested != "cuda")
    throw Error("--device must be auto, cpu or cuda, got '" + requested + "'");
#ifdef SLKV_HAVE_CUDA
  const bool gpu = cuda_device_count() > 0;
  if (requested == "cuda" && !gpu) throw Error("--device cuda: no CUDA device is visible to this process");
  if (requested == "auto") return gpu ? "cuda" : "cpu";
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
