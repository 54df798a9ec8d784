#pragma once
// One-time OpenBLAS configuration for the GEMM path.

#include <string>

namespace slkv::cpu {

// Idempotent and thread-safe; call before any sgemm.
// * OpenBLAS runs single-threaded: the callers parallelise with OpenMP, each
//   thread taking its own slice of rows, so only one thread pool uses the cores.
// * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know recent AMD cores
//   (Zen 4/5) and picks its AVX2 "Haswell" kernels; when the CPU has AVX-512
//   and the user did not set OPENBLAS_CORETYPE we switch it to the AVX-512
//   "SkylakeX" kernels, which are about twice as fast there.
void ensure_openblas_configured();

// The OpenBLAS kernel set in use, e.g. "SkylakeX", for benchmark reports.
std::string openblas_core_name();

}  // namespace slkv::cpu
