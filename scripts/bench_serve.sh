#!/usr/bin/env bash
# Serving benchmark (issue 13): bench/bench_serve.py against `slkv serve`
#   1. the 125M test model, concurrency 1, 4, 16, 64 (continuous batching);
#   2. the same load with --max-batch 1 (one request at a time);
#   3. stories260K at a fixed --kv-blocks with `full` against `simlayerkv`:
#      how many requests run at once, and the throughput.
# Then docs/bench_serve.png (gnuplot). Usage: scripts/bench_serve.sh [threads=2] [out=bench-results/serve]
#   SLKV_BUILD_DIR (default build), SLKV_SHARED (default ../shared), SLKV_BENCH_MODELS (default /tmp/slkv-bench-models)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=${2:-bench-results/serve}
bin=${SLKV_BUILD_DIR:-build}/slkv
shared=${SLKV_SHARED:-../shared}
models=${SLKV_BENCH_MODELS:-/tmp/slkv-bench-models}
mkdir -p "$out" "$models"
m125=$models/m125-f32
[[ -f "$m125/config.json" ]] ||
  "$bin" make-test-model --out "$m125" --hidden 768 --layers 12 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000 --dtype f32

server_pid=""
start_server() {  # args...: starts slkv serve on a free port, sets $url
  "$bin" serve --port 0 --threads "$threads" "$@" > "$out/server.out" 2> "$out/server.err" &
  server_pid=$!
  for _ in $(seq 600); do
    if grep -q "listening on" "$out/server.out" 2> /dev/null; then break; fi
    sleep 0.1
  done
  url=$(grep -o "http://[0-9.]*:[0-9]*" "$out/server.out")
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; }
trap '[[ -n "$server_pid" ]] && kill "$server_pid" 2> /dev/null || true' EXIT

client=(python3 bench/bench_serve.py --prompt-len 128 --gen-len 32 --requests-per-client 2)

start_server --model "$m125" --kv-policy full
"${client[@]}" --url "$url" --concurrency 1,4,16,64 --label "125M, continuous batching" --json "$out/batching.json"
stop_server
start_server --model "$m125" --kv-policy full --max-batch 1
"${client[@]}" --url "$url" --concurrency 1,4,16 --label "125M, --max-batch 1" --json "$out/max_batch_1.json"
stop_server
for policy in full simlayerkv; do
  start_server --model "$shared/models/stories260K" --kv-policy "$policy" --kv-blocks 600 \
    --sink 4 --recent 32 --lazy-threshold 0.5
  python3 bench/bench_serve.py --prompt-len 150 --gen-len 64 --requests-per-client 2 --url "$url" \
    --concurrency 16,64 --label "stories260K, --kv-blocks 600, $policy" --json "$out/kv_$policy.json"
  stop_server
done

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
b = {r["concurrency"]: r for r in json.load(open(f"{out}/batching.json"))}
m = {r["concurrency"]: r for r in json.load(open(f"{out}/max_batch_1.json"))}
with open(f"{out}/throughput.tsv", "w") as f:
    for c in sorted(b):
        f.write(f"{c}\t{b[c]['output_tok_s']}\t{m[c]['output_tok_s'] if c in m else 'NaN'}\t{b[c]['ttft_p50_ms']}\t{b[c]['itl_p50_ms']}\n")
PY
gnuplot <<EOF
set terminal pngcairo size 1100,420 font "Sans,11"
set output "docs/bench_serve.png"
set multiplot layout 1,2 title "slkv serve, 125M test model, 128-token prompts, 32 generated"
set grid
set logscale x 2
set xlabel "concurrent clients"
set ylabel "output tokens/s"
set key top left
plot "$out/throughput.tsv" using 1:2 with linespoints lw 2 pt 7 title "continuous batching", \
     "" using 1:3 with linespoints lw 2 pt 5 title "--max-batch 1"
set ylabel "ms"
plot "$out/throughput.tsv" using 1:4 with linespoints lw 2 pt 7 title "TTFT p50", "" using 1:5 with linespoints lw 2 pt 5 title "ITL p50"
unset multiplot
EOF
echo "wrote docs/bench_serve.png and $out/"
