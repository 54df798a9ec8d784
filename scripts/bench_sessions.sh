#!/usr/bin/env bash
# Multi-turn sessions benchmark (issue 12): `slkv bench-sessions` on
# stories260K (sink 4, recent 32, as its 512-token context wants), then
# docs/bench_sessions.png with gnuplot: per-turn KL and greedy agreement of
# --reidentify none / cached / exact against a full-KV session, turn-2 time
# to first token, and the sessions a fixed KV budget holds.
# Usage: scripts/bench_sessions.sh [threads=2] [out=bench-results/sessions] [extra bench-sessions flags...]
#   SLKV_BUILD_DIR (default build), SLKV_SHARED (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=${2:-bench-results/sessions}
shift $(( $# > 2 ? 2 : $# ))
build=${SLKV_BUILD_DIR:-build}
shared=${SLKV_SHARED:-../shared}
mkdir -p "$out"
"$build/slkv" bench-sessions --model "$shared/models/stories260K" --threads "$threads" \
  --sink 4 --recent 32 --obs-window 8 --lazy-threshold 0.9 --conversations 16 \
  --json "$out/sessions.json" "$@" | tee "$out/sessions.md"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
r = json.load(open(f"{out}/sessions.json"))
with open(f"{out}/fidelity.tsv", "w") as f:
    f.write("turn\tnone_kl\tcached_kl\texact_kl\tnone_agree\tcached_agree\texact_agree\n")
    for turn in (1, 2, 3):
        row = {x["reidentify"]: x for x in r["fidelity"] if x["turn"] == turn}
        f.write(f"{turn}\t" + "\t".join(str(row[m]["kl"]) for m in ("none", "cached", "exact")) + "\t" +
                "\t".join(str(100 * row[m]["greedy_agreement"]) for m in ("none", "cached", "exact")) + "\n")
with open(f"{out}/latency.tsv", "w") as f:
    for x in r["latency"]:
        f.write(f"\"{x['run']}\"\t{x['ttft_ms']}\n")
with open(f"{out}/memory.tsv", "w") as f:
    for x in r["memory"]:
        f.write(f"\"{x['policy']}\"\t{x['sessions']}\n")
PY

gnuplot <<EOF
set terminal pngcairo size 1500,480 font "Sans,11"
set output "docs/bench_sessions.png"
set datafile separator "\t"
set termoption noenhanced
set multiplot layout 1,3 title "stories260K 3-turn sessions (sink 4, recent 32): re-identification each turn"
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set yrange [0:*]
set title "mean KL(full || policy) per turn"
set xlabel "turn"
plot "$out/fidelity.tsv" using 2:xtic(1) title "none" lc rgb "#d62728", "" using 3 title "cached" lc rgb "#ff7f0e", "" using 4 title "exact" lc rgb "#2ca02c"
set title "turn-2 time to first token (ms)"
set xlabel ""
set xtics rotate by -20
set key off
plot "$out/latency.tsv" using 2:xtic(1) lc rgb "#1f77b4"
set title "concurrent 3-turn sessions in a fixed KV budget"
plot "$out/memory.tsv" using 2:xtic(1) lc rgb "#9467bd"
unset multiplot
EOF
echo "wrote docs/bench_sessions.png and $out/"
