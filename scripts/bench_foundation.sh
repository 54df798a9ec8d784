#!/usr/bin/env bash
# The foundation benchmark: prefill (512-token prompt) and decode speed, weight
# bandwidth and peak RSS of slkv beside llama.cpp on the same model directories,
# in one run: stories260K and a ~125M-parameter random Llama in F32 and BF16.
# Usage: scripts/bench_foundation.sh [threads=2] [out=bench-results]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=${2:-bench-results}
bin=${SLKV_BUILD_DIR:-build}/slkv
shared=${SLKV_SHARED:-../shared}
models=${SLKV_BENCH_MODELS:-/tmp/slkv-bench-models}
mkdir -p "$out" "$models"
for dtype in f32 bf16; do
  [[ -f "$models/m125-$dtype/config.json" ]] ||
    "$bin" make-test-model --out "$models/m125-$dtype" --hidden 768 --layers 12 --heads 12 --kv-heads 4 \
      --ffn 2048 --vocab 32000 --dtype "$dtype"
done
source scripts/bench_common.sh
bench_model stories260K "$shared/models/stories260K" --decode-tokens 256 --reps 5
bench_model m125-f32 "$models/m125-f32" --decode-tokens 64 --reps 3
# llama.cpp's converter writes F16 or F32; BF16 weights are compared with its F16 (both 16-bit).
bench_model m125-bf16 "$models/m125-bf16" --decode-tokens 64 --reps 3 --llamacpp-type f16
