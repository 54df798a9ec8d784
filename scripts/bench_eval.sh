#!/usr/bin/env bash
# Evaluation benchmark (issue 14) on a model directory (default stories260K):
# LongBench (the shared tasks, every row), SCBench multi-turn on generated
# key-value rows (--reidentify none / cached / exact against full KV), the
# needle grid and RULER, one `slkv eval` per benchmark comparing the KV
# policies in one run. Writes OUT/summary.md: scores, mean compression, wall
# time per task, and the fidelity to full KV (per row, the share of full
# KV's prediction that the policy's prediction repeats before the first
# difference, averaged), which is the figure to read on a model as small as
# stories260K.
# Usage: scripts/bench_eval.sh [threads=2] [out=bench-results/eval] [model=../shared/models/stories260K]
#   SLKV_BUILD_DIR (default build), SLKV_SHARED (default ../shared), LIMIT (LongBench/RULER rows; default all / 100)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=${2:-bench-results/eval}
shared=${SLKV_SHARED:-../shared}
model=${3:-$shared/models/stories260K}
build=${SLKV_BUILD_DIR:-build}
slkv="$build/slkv"
# stories260K's 512-token context wants a small window; a larger model keeps its family preset.
small=()
if [[ $model == *stories260K* ]]; then small=(--sink 4 --recent 32 --obs-window 8 --lazy-threshold 0.9 --snapkv-budget 64); fi
common=(--model "$model" --threads "$threads" "${small[@]}")
policies=full,simlayerkv,streaming,snapkv
rm -rf "$out"
mkdir -p "$out"

limit=()
if [[ -n ${LIMIT:-} ]]; then limit=(--limit "$LIMIT"); fi
"$slkv" eval longbench "${common[@]}" --data "$shared/data/longbench" --kv-policy "$policies" "${limit[@]}" \
  --out "$out/longbench" | tee "$out/longbench.log"
"$slkv" eval score --out "$out/longbench" | tee "$out/longbench_score.md"

python3 scripts/make_scbench_kv.py --rows 16 --pairs 3 --turns 3 --compact --seed 1 > "$out/scbench_kv.jsonl"
for reidentify in none cached exact; do
  "$slkv" eval scbench "${common[@]}" --data "$out/scbench_kv.jsonl" --max-new-tokens 16 --kv-policy full,simlayerkv \
    --reidentify "$reidentify" --out "$out/scbench_$reidentify" | tee "$out/scbench_$reidentify.log"
done
"$slkv" eval scbench "${common[@]}" --data "$out/scbench_kv.jsonl" --max-new-tokens 16 --kv-policy full,simlayerkv \
  --mode multi-request --out "$out/scbench_multi_request" | tee "$out/scbench_multi_request.log"

"$slkv" eval needle "${common[@]}" --haystack "$shared/data/paul-graham-essays" --kv-policy full,simlayerkv \
  --out "$out/needle" | tee "$out/needle.log"
"$slkv" eval ruler "${common[@]}" --data "$shared/data/ruler/niah_multikey_3.4096.jsonl" --limit "${LIMIT:-100}" \
  --kv-policy "$policies" --out "$out/ruler" | tee "$out/ruler.log"

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]

def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]

def agreement(a, b):
    """Mean over rows of the common prefix of a and b (texts or token lists) / len(b), in %."""
    shares = []
    for x, y in zip(a, b):
        same = 0
        while same < min(len(x), len(y)) and x[same] == y[same]:
            same += 1
        shares.append(1.0 if len(y) == 0 and len(x) == 0 else same / max(1, len(y)))
    return 100.0 * sum(shares) / max(1, len(shares))

md = ["## LongBench (every row of the shared tasks)", ""]
run = json.load(open(f"{out}/longbench/run.json"))
result = json.load(open(f"{out}/longbench/result.json"))
tasks = list(run["tasks"])
md.append("| policy | " + " | ".join(f"{t} score | {t} prefix = full % | {t} s" for t in tasks) + " | mean CR |")
md.append("|---" * (2 + 3 * len(tasks)) + "|")
for policy in run["policies"]:
    cells, ratios = [], []
    for t in tasks:
        mine = lines(f"{out}/longbench/{policy}/{t}.jsonl")
        full = lines(f"{out}/longbench/full/{t}.jsonl")
        ratios += [r["kv"]["compression_ratio"] for r in mine]
        cells += [f"{result[policy][t]:.2f}", f"{agreement([r['pred'] for r in mine], [r['pred'] for r in full]):.0f}",
                  f"{run['seconds'][policy][t]:.1f}"]
    md.append(f"| {policy} | " + " | ".join(cells) + f" | {sum(ratios) / len(ratios):.2f} |")

md += ["", "## SCBench scbench_kv, multi-turn (16 generated rows x 3 turns) and multi-request", "",
       "| run | turn 1 score | turn 2 | turn 3 | turn 1 prefix = full % | turn 2 | turn 3 | mean CR | restored MiB | s |",
       "|---|---|---|---|---|---|---|---|---|---|"]
for name in ("none", "cached", "exact", "multi_request"):
    d = f"{out}/scbench_{name}"
    res = json.load(open(f"{d}/result.json"))
    full = lines(f"{d}/full/scbench_kv.jsonl")
    for policy in ("full", "simlayerkv"):
        rows = lines(f"{d}/{policy}/scbench_kv.jsonl")
        agree = []
        for t in range(3):
            agree.append(agreement([r["turns"][t]["tokens"] for r in rows], [r["turns"][t]["tokens"] for r in full]))
        restored = sum(t["offload"]["bytes_restored"] for r in rows for t in r["turns"]) / 2**20
        label = f"{policy}, " + ("multi-request" if name == "multi_request" else f"--reidentify {name}")
        scores = res[policy]["turn_scores"]
        md.append(f"| {label} | " + " | ".join(f"{s:.1f}" for s in scores) + " | " +
                  " | ".join(f"{a:.0f}" for a in agree) +
                  f" | {res[policy]['compression_ratio']:.2f} | {restored:.2f} | {res[policy]['seconds']:.1f} |")

md += ["", "## Needle in a haystack (8 lengths x 11 depths)", "", "| policy | mean score | mean CR | prefix = full % |",
       "|---|---|---|---|"]
grid = json.load(open(f"{out}/needle/needle_grid.json"))
full = lines(f"{out}/needle/full/needle.jsonl")
for policy, g in grid.items():
    mine = lines(f"{out}/needle/{policy}/needle.jsonl")
    md.append(f"| {policy} | {g['mean']:.2f} | {g['compression_ratio']:.2f} | "
              f"{agreement([r['pred'] for r in mine], [r['pred'] for r in full]):.0f} |")

md += ["", "## RULER niah_multikey_3", "", "| policy | string_match_all | mean CR | rows |", "|---|---|---|---|"]
for policy, r in json.load(open(f"{out}/ruler/result.json")).items():
    md.append(f"| {policy} | {r['string_match_all']:.2f} | {r['compression_ratio']:.2f} | {r['rows']} |")
open(f"{out}/summary.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
