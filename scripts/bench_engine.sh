#!/usr/bin/env bash
# Continuous batching benchmark (issue 11): 64 prompts of mixed lengths (about
# 50 to 450 tokens, from the shared essays) through `slkv generate
# --prompts-file` on the ~125M-parameter test model, at --max-batch 1, 8, 32
# and 64, plus one run whose step budget takes every prompt whole (no chunked
# prefill) to show what chunking costs. Optional: OLD_SLKV=path/to/slkv of a
# build before the engine (one static batch) for the same prompts.
# Usage: scripts/bench_engine.sh [threads=2] [out=bench-results/engine] [new_tokens=32]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=${2:-bench-results/engine}
new_tokens=${3:-32}
bin=${SLKV_BUILD_DIR:-build}/slkv
shared=${SLKV_SHARED:-../shared}
models=${SLKV_BENCH_MODELS:-/tmp/slkv-bench-models}
model=$models/m125-f32
mkdir -p "$out" "$models"
[[ -f "$model/config.json" ]] ||
  "$bin" make-test-model --out "$model" --hidden 768 --layers 12 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000 \
    --dtype f32

# 64 prompts: consecutive words of the essays, 30 to 300 words (the test
# model's tokenizer gives about 1.5 tokens a word), lengths spread evenly.
prompts=$out/prompts.jsonl
python3 - "$shared/data/paul-graham-essays" "$prompts" <<'PY'
import json, pathlib, sys
words = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.txt")):
    words += path.read_text(encoding="utf-8").split()
with open(sys.argv[2], "w") as out:
    for i in range(64):
        count = 30 + (i * 37) % 271  # 30..300 words, a shuffled ramp
        start = (i * 997) % (len(words) - count)
        out.write(json.dumps(" ".join(words[start:start + count])) + "\n")
PY

common=(--model "$model" --prompts-file "$prompts" --max-new-tokens "$new_tokens" --temperature 0 --threads "$threads"
        --json)
summarize() {  # name jsonl
  python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[2]) if line.startswith("{")]
t = rows[0]["timings"]
generated = sum(len(r["tokens"]) for r in rows)
prompt = sum(r["prompt_tokens"] for r in rows)
if "engine" in rows[0]:
    seconds = t["batch_seconds"]
    peak = rows[0]["engine"]["peak_kv_blocks"]
    steps = rows[0]["engine"]["steps"]
    preemptions = rows[0]["engine"]["preemptions"]
else:  # the static batch before the engine: prefill of every prompt, then the decode loop
    seconds = (t["prefill_ms"] + t["decode_ms"]) / 1e3
    layers = len(rows[0]["kv"]["kv_tokens_per_layer"])
    full_prompts = sum(layers * -(-r["prompt_tokens"] // 16) for r in rows)
    peak = max(full_prompts, sum(r["kv"]["kv_blocks"] for r in rows))  # a lower bound
    steps = preemptions = "-"
print(f"| {sys.argv[1]} | {len(rows)} | {prompt} | {generated} | {seconds:.1f} | {generated / seconds:.1f} | "
      f"{(prompt + generated) / seconds:.0f} | {peak} | {steps} | {preemptions} |")
PY
}
echo "| run | prompts | prompt tokens | generated | seconds | output tok/s | total tok/s | peak KV blocks | steps | preemptions |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for batch in ${SLKV_BENCH_BATCHES:-1 8 32 64}; do
  "$bin" generate "${common[@]}" --max-batch "$batch" > "$out/batch$batch.jsonl"
  summarize "max-batch $batch" "$out/batch$batch.jsonl"
done
"$bin" generate "${common[@]}" --max-batch 64 --max-batch-tokens 1000000 > "$out/unchunked.jsonl"
summarize "max-batch 64, no chunking" "$out/unchunked.jsonl"
if [[ -n "${OLD_SLKV:-}" ]]; then
  "$OLD_SLKV" generate "${common[@]}" > "$out/static.jsonl"
  summarize "static batch (before the engine)" "$out/static.jsonl"
fi
