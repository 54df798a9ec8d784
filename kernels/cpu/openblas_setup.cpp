#include "kernels/cpu/openblas_setup.h"

#include <cblas.h>

#include <mutex>

namespace slkv::cpu {

void ensure_openblas_configured() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

}  // namespace slkv::cpu
