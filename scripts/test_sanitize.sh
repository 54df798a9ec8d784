#!/usr/bin/env bash
# The tests again under AddressSanitizer + UndefinedBehaviorSanitizer: a CPU-only
# build (cmake -DSLKV_SANITIZE=ON: no CUDA, no benchmarks) in its own directory,
# then ctest there. An ASan error, undefined behaviour, or a leak allocated
# outside Open MPI/oneDNN/OpenMP fails the test it happens in. scripts/test.sh
# runs this after the normal tests; alone, it needs the dependencies installed.
# Extra arguments go to ctest (e.g. -R Tokenizer).
#   SLKV_SANITIZE_BUILD_DIR  build directory (default build-sanitize)
#   SLKV_SANITIZE_EXCLUDE    ctest -E regex of tests left out (default below; '' runs all)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SLKV_SANITIZE_BUILD_DIR:-build-sanitize}

# -O1 -g1 (line tables only): reports still name file:line, and it compiles in
# about half the time of RelWithDebInfo's -O2 -g (this is a 2-core CI machine).
cmake -S . -B "$build" -DSLKV_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
cmake --build "$build" -j "$(nproc)"

# The sanitizers' settings reach every process a test starts (slkv, each mpirun rank).
#  - ASan: stop at the first error. fast_unwind_on_malloc=0 unwinds allocation
#    stacks through libraries built without frame pointers (Open MPI): without
#    it their leaks show one unknown frame and cannot be matched below.
#  - LSan: leaks are reported except those allocated inside Open MPI, oneDNN and
#    OpenMP, which keep process-lifetime state (scripts/lsan.supp).
#  - UBSan: a stack trace, then stop (the build also makes UB non-recoverable).
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The MPI tests run too (mpirun's ranks are sanitized as well), but of the
# layout x KV policy matrices (Layouts/...) only simlayerkv+snapkv, which goes
# through both trimming paths, on every layout: the other policies would add
# about a quarter to the run for the same MPI code.
exclude=${SLKV_SANITIZE_EXCLUDE-'^Layouts/.*/(full|streaming|snapkv|simlayerkv)_[tp]p'}
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 900 ${exclude:+-E "$exclude"} "$@"
