#!/usr/bin/env bash
# One command: install, build, and run every test (ctest, including the MPI
# and GPU entries; GPU tests report SKIPPED where no GPU exists), then build
# once more with AddressSanitizer + UndefinedBehaviorSanitizer and run the
# tests there too (scripts/test_sanitize.sh; SLKV_SANITIZE=0 skips it).
#   SLKV_BUILD_DIR           the normal build (default build)
#   SLKV_SANITIZE_BUILD_DIR  the sanitizer build (default build-sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
(cd "${SLKV_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)" --timeout 900)
if [[ ${SLKV_SANITIZE:-1} != 0 ]]; then bash scripts/test_sanitize.sh; fi
