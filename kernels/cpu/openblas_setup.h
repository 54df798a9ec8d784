#pragma once
// One-time OpenBLAS configuration for the GEMM path.
#include <string>

namespace slkv::cpu {

// Makes OpenBLAS single-threaded (idempotent, thread-safe; call before any
// sgemm). The GEMM path parallelises with OpenMP instead, each thread running
// sgemm on its own slice of rows: then only one thread pool uses the cores.
// Letting OpenBLAS's own pool run the GEMM was as fast alone but 30-40%
// slower in a prefill-like loop, where OpenMP threads still spinning after an
// elementwise op compete with it.
void ensure_openblas_configured();

// The OpenBLAS kernel set in use, e.g. "Haswell" (AVX2) or "Cooperlake"
// (AVX-512), for benchmark reports. OPENBLAS_CORETYPE overrides it.
std::string openblas_core_name();

}  // namespace slkv::cpu
