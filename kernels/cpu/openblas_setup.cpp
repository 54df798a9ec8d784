#include "kernels/cpu/openblas_setup.h"

#include <cblas.h>

#include <cstdlib>
#include <mutex>

// Exported by DYNAMIC_ARCH builds of OpenBLAS only, hence weak: they re-run
// the kernel-set selection, which honours OPENBLAS_CORETYPE.
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));

namespace slkv::cpu {
namespace {

bool cpu_has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

void upgrade_to_avx512_kernels() {
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;  // not a DYNAMIC_ARCH OpenBLAS
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;        // the user chose
  if (!cpu_has_avx512()) return;
  const std::string core = openblas_core_name();
  if (core != "Haswell" && core != "Zen") return;  // only the AVX2 fallbacks
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace

void ensure_openblas_configured() {
  static std::once_flag once;
  std::call_once(once, [] {
    upgrade_to_avx512_kernels();
    openblas_set_num_threads(1);
  });
}

std::string openblas_core_name() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

}  // namespace slkv::cpu
