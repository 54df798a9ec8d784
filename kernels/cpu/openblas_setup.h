#pragma once
// One-time OpenBLAS configuration. The GEMM path no longer calls OpenBLAS
// (it uses oneDNN, see matmul.cpp); this keeps any OpenBLAS call that a
// linked library makes single-threaded, so that it never starts a second
// thread pool beside OpenMP's. Once CpuBackend stops calling it, this file
// and the OpenBLAS dependency can go.
namespace slkv::cpu {

// Makes OpenBLAS single-threaded (idempotent, thread-safe).
void ensure_openblas_configured();

}  // namespace slkv::cpu
