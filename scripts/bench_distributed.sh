#!/usr/bin/env bash
# The distributed benchmark: `slkv bench` on the ~125M-parameter random Llama
# (F32) as one process (TP1), as TP2 and as PP2 under mpirun, one thread per
# rank, in one run: decode ms per step, each rank's loaded bytes and the time
# it spent inside MPI per step. Prints one JSON report per layout.
# Usage: scripts/bench_distributed.sh [out=bench-results]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results}
bin=${SLKV_BUILD_DIR:-build}/slkv
models=${SLKV_BENCH_MODELS:-/tmp/slkv-bench-models}
model=$models/m125-f32
mkdir -p "$out" "$models"
[[ -f "$model/config.json" ]] ||
  "$bin" make-test-model --out "$model" --hidden 768 --layers 12 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000 \
    --dtype f32
flags=(--model "$model" --threads 1 --prefill-tokens 128 --decode-tokens 64 --reps 3 --llamacpp '' --json)
mpirun_flags=(--allow-run-as-root --oversubscribe --bind-to none -np 2)
echo "== TP1" >&2
"$bin" bench "${flags[@]}" | tee "$out/distributed-tp1.json"
echo "== TP2" >&2
mpirun "${mpirun_flags[@]}" "$bin" bench "${flags[@]}" --tp 2 | tee "$out/distributed-tp2.json"
echo "== PP2" >&2
mpirun "${mpirun_flags[@]}" "$bin" bench "${flags[@]}" --pp 2 | tee "$out/distributed-pp2.json"
