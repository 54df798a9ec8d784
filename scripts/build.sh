#!/usr/bin/env bash
# Installs dependencies, then configures and builds slkv into ${SLKV_BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build_dir=${SLKV_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release ${SLKV_CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$(nproc)"
