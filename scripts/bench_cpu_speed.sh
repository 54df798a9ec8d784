#!/usr/bin/env bash
# CPU speed II: prefill and decode beside llama.cpp in one run, on the 125M
# test model (prefill, cache-resident decode) and a 1.26B one several times
# the last-level cache (decode at the memory floor), F32 and BF16 (llama.cpp
# F16); then decode tokens/s against the batch size on the 125M model, with a
# gnuplot plot. Writes OUT/machine.txt, OUT/*.json, OUT/batch-*.md and
# OUT/decode_batch.png.
# Usage: scripts/bench_cpu_speed.sh [threads=2] [out=bench-results/cpu-speed]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=${2:-bench-results/cpu-speed}
bin=${SLKV_BUILD_DIR:-build}/slkv
models=${SLKV_BENCH_MODELS:-/tmp/slkv-bench-models}
mkdir -p "$out" "$models"

{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc), threads used: $threads"
  echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx512|amx|avx_vnni|f16c|fma)' | sort | tr '\n' ' ')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$out/machine.txt"

make_model() {  # name dtype hidden layers heads kv_heads ffn
  [[ -f "$models/$1/config.json" ]] ||
    "$bin" make-test-model --out "$models/$1" --hidden "$3" --layers "$4" --heads "$5" --kv-heads "$6" --ffn "$7" \
      --vocab 32000 --dtype "$2"
}
for dtype in f32 bf16; do
  make_model "m125-$dtype" "$dtype" 768 12 12 4 2048
  make_model "m1b-$dtype" "$dtype" 2048 24 16 8 5632
done

source scripts/bench_common.sh
# llama.cpp's converter writes F16 or F32: BF16 weights are compared with its F16.
bench_model m125-f32 "$models/m125-f32" --decode-tokens 64 --reps 3
bench_model m125-bf16 "$models/m125-bf16" --decode-tokens 64 --reps 3 --llamacpp-type f16
# The large model: decode is what it measures; a short prefill keeps the run short.
bench_model m1b-f32 "$models/m1b-f32" --decode-tokens 32 --prefill-tokens 64 --reps 3
bench_model m1b-bf16 "$models/m1b-bf16" --decode-tokens 32 --prefill-tokens 64 --reps 3 --llamacpp-type f16

for dtype in f32 bf16; do
  echo "== batched decode m125-$dtype" >&2
  "$bin" bench-decode --model "$models/m125-$dtype" --threads "$threads" --batch 1,2,4,8,16,32,64 --context 256 \
    --fill copy --steps 16 | tee "$out/batch-$dtype.md"
done

# decode tok/s against the batch from the two tables (columns: context, batch, ms/step, tok/s).
for dtype in f32 bf16; do
  awk -F'|' '$3 ~ /^ *[0-9]+ *$/ && $5 ~ /[0-9]/ {gsub(/ /, "", $3); gsub(/ /, "", $5); print $3, $5}' \
    "$out/batch-$dtype.md" > "$out/batch-$dtype.dat"
done
if command -v gnuplot > /dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 800,500
set output "$out/decode_batch.png"
set title "slkv decode on the 125M model, context 256, $threads threads"
set xlabel "sequences decoded per step (batch)"
set ylabel "tokens/s"
set logscale x 2
set key left top
set grid
plot "$out/batch-f32.dat" using 1:2 with linespoints title "F32", \
     "$out/batch-bf16.dat" using 1:2 with linespoints title "BF16"
EOF
  echo "plot: $out/decode_batch.png" >&2
fi
