#!/usr/bin/env bash
# One command: install, build, and run every test (ctest, including the MPI
# and GPU entries; GPU tests report SKIPPED where no GPU exists).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd "${SLKV_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" --timeout 900
