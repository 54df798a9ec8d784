#!/usr/bin/env bash
# The tests again under AddressSanitizer + UndefinedBehaviorSanitizer: a CPU-only
# build (cmake -DSLKV_SANITIZE=ON; no CUDA, no benchmarks) in its own directory,
# then ctest there. Any ASan report, any undefined behaviour or a leak allocated
# by slkv's code fails the test it happens in. scripts/test.sh runs it after the
# normal tests; it can also run on its own (dependencies installed).
#   SLKV_SANITIZE_BUILD_DIR  build directory (default build-sanitize)
#   SLKV_SANITIZE_TESTS      ctest -R regex to run only some tests (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SLKV_SANITIZE_BUILD_DIR:-build-sanitize}

# -O1 -g1 (line tables only): reports name file:line, and it compiles in about
# half the time of RelWithDebInfo's -O2 -g, which matters on a 2-core CI machine.
cmake -S . -B "$build" -DSLKV_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
cmake --build "$build" -j "$(nproc)"

# The sanitizers' settings reach every process the tests start (slkv, mpirun's ranks).
#  - ASan: stop at the first error with a non-zero exit.
#  - LSan: report leaks, except those allocated inside Open MPI, oneDNN and
#    OpenMP, which keep process-lifetime state (scripts/lsan.supp).
#  - UBSan: a stack trace, and stop (the build also makes UB non-recoverable).
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 900 ${SLKV_SANITIZE_TESTS:+-R "$SLKV_SANITIZE_TESTS"}
