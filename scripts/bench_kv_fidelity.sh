#!/usr/bin/env bash
# Fidelity vs compression of the KV policies on stories260K: builds slkv,
# runs `slkv bench-kv` (markdown tables, saved beside the data) and plots
# docs/kv_fidelity.png with gnuplot. Extra arguments go to bench-kv.
#   SLKV_BUILD_DIR   build directory (default build)
#   SLKV_SHARED      shared data (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SLKV_BUILD_DIR:-build}
shared=${SLKV_SHARED:-../shared}
out="$build/kv_fidelity"
mkdir -p "$out"

if [[ ! -f "$build/CMakeCache.txt" ]]; then cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${SLKV_CMAKE_ARGS:-}; fi
cmake --build "$build" --target slkv -j "$(nproc)"

# Windows scaled to stories260K's 512-token context: sink 4, recent 64;
# 16 essay prompts of 400 tokens + 64 generated tokens = 464 <= 512.
"$build/slkv" bench-kv \
  --model "$shared/models/stories260K" \
  --text-dir "$shared/data/paul-graham-essays" \
  --prompts 16 --prompt-tokens 400 --new-tokens 64 \
  --sink 4 --recent 64 --obs-window 32 \
  --thresholds 0.6,0.7,0.75,0.8,0.85,0.9,0.92,0.94,0.96,0.98 \
  --streaming-recent 16,32,64,96,128,192,256,320 \
  --snapkv-budgets 0,16,32,64,128,256 --hybrid-budget 128 \
  --control-draws 4 --seed 1234 --timing-reps 21 --threads 1 \
  --data "$out/points.tsv" "$@" | tee "$out/table.md"

# Series (TSV blocks) in bench-kv's order: 0 full, 1 simlayerkv (prefill),
# 2 random layers (prefill), 3 streaming matched to it, 4 simlayerkv (decode),
# 5 random layers (decode), 6 streaming matched to it, 7 streaming,
# 8 snapkv, 9 simlayerkv+snapkv (prefill). Of the matched-streaming controls
# only the prefill one is drawn (points), to keep the plot readable.
gnuplot <<EOF
set terminal pngcairo size 1500,640 font "Sans,11"
set output "docs/kv_fidelity.png"
set datafile separator "\t"
set termoption noenhanced
series = "1 2 4 5 7 8 9"
set format x "%g"
set format y "%g"
set multiplot layout 1,2 title "stories260K, 16 essay prompts x 400 tokens, 64 generated (sink 4, recent 64): fidelity vs KV compression"
set grid
set logscale x 2
set xrange [1:*]
set xlabel "compression ratio (full KV / kept KV, end of generation)"
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 1.1
set style line 2 lc rgb "#1f77b4" lw 2 pt 6 ps 1.1 dt 2
set style line 3 lc rgb "#2ca02c" lw 2 pt 5 ps 1.1
set style line 4 lc rgb "#2ca02c" lw 2 pt 4 ps 1.1 dt 2
set style line 5 lc rgb "#d62728" lw 2 pt 9 ps 1.2
set style line 6 lc rgb "#9467bd" lw 2 pt 13 ps 1.2
set style line 7 lc rgb "#ff7f0e" lw 2 pt 11 ps 1.2
set style line 8 lc rgb "#d62728" lw 2 pt 8 ps 1.4
set logscale y
set yrange [3e-5:1]
set ylabel "mean KL(full || policy), nats, teacher forced"
set key top left
plot for [k=1:7] "$out/points.tsv" index (word(series, k) + 0) using 1:5 with linespoints ls k title columnheader(1), \\
  "$out/points.tsv" index 3 using 1:5 with points ls 8 title columnheader(1)
unset logscale y
set yrange [0:1.02]
set ylabel "greedy agreement with full up to the first divergence"
set key top right
plot for [k=1:7] "$out/points.tsv" index (word(series, k) + 0) using 1:2 with linespoints ls k title columnheader(1), \\
  "$out/points.tsv" index 3 using 1:2 with points ls 8 title columnheader(1)
unset multiplot
EOF
echo "wrote docs/kv_fidelity.png and $out/table.md"
