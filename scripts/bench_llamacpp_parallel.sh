#!/usr/bin/env bash
# The llama.cpp anchor of the serving benchmark (issue 13): N sequences
# decoded in parallel by llama.cpp (bench/llamacpp_parallel_decode.c, built
# against the prebuilt CPU llama.cpp that ../shared/anchors/llamacpp-bench
# installs) against slkv's engine on the same N prompts
# (`slkv generate --prompts-file`, continuous batching), same model
# directory, same run. llama.cpp runs with one KV cache shared by the
# sequences and with one per sequence; the better counts. Both figures are end-to-end output tokens/s: N x
# n_gen tokens over the time from the first prefill to the last token.
# Usage: scripts/bench_llamacpp_parallel.sh [threads=2] [out=bench-results/llamacpp-parallel] [model=125M test model]
#   SLKV_BUILD_DIR (default build), SLKV_SHARED (default ../shared), SLKV_BENCH_MODELS (default /tmp/slkv-bench-models),
#   SLKV_ANCHOR_DIR (default ~/.cache/slkv-anchors), COUNTS (default "1 4 16 64"), PROMPT_WORDS (128), GEN (32)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
out=${2:-bench-results/llamacpp-parallel}
bin=${SLKV_BUILD_DIR:-build}/slkv
shared=${SLKV_SHARED:-../shared}
models=${SLKV_BENCH_MODELS:-/tmp/slkv-bench-models}
cache=${SLKV_ANCHOR_DIR:-$HOME/.cache/slkv-anchors}
counts=${COUNTS:-1 4 16 64}
words=${PROMPT_WORDS:-128}
gen=${GEN:-32}
mkdir -p "$out" "$models"
model=${3:-$models/m125-f32}
[[ -f "$model/config.json" ]] ||
  "$bin" make-test-model --out "$model" --hidden 768 --layers 12 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000 --dtype f32

# Installs llama.cpp and converts the model (a tiny timing run of the anchor).
"$shared/anchors/llamacpp-bench" "$model" f32 "$threads" 4 8 1 > /dev/null
bins=$cache/nlc/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
harness=$cache/llamacpp_parallel_decode
lib=$(cd "$bins" && ls libllama.v*.so)
glib=$(cd "$bins" && ls libggml.v*.so)
gcc -O2 -Wall bench/llamacpp_parallel_decode.c -I"$cache/inc" -L"$bins" -Wl,-rpath,"$bins" \
  -l:"$lib" -l:"$glib" -l:libggml-base.so -o "$harness"
gguf=$cache/$(basename "$(cd "$model" && pwd)")-f32.gguf

echo "| sequences | prompt tokens | slkv output tok/s | llama.cpp output tok/s | slkv / llama.cpp | llama.cpp decode tok/s |" | tee "$out/table.md"
echo "|---|---|---|---|---|---|" | tee -a "$out/table.md"
for n in $counts; do
  python3 - "$n" "$words" > "$out/prompts_$n.jsonl" <<'PY'
import json, random, sys
n, words = int(sys.argv[1]), int(sys.argv[2])
vocab = "the a of and to in was he she it they said day time little big went saw one good old new".split()
for i in range(n):
    rng = random.Random(i)
    print(json.dumps(" ".join(rng.choice(vocab) for _ in range(words))))
PY
  "$bin" generate --model "$model" --prompts-file "$out/prompts_$n.jsonl" --json --kv-policy full --temperature 0 \
    --max-new-tokens "$gen" --threads "$threads" --max-batch "$n" > "$out/slkv_$n.jsonl"
  read -r slkv_tok_s prompt_tokens < <(python3 - "$out/slkv_$n.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
generated = sum(len(r["tokens"]) for r in rows)
print(f'{generated / rows[0]["timings"]["batch_seconds"]:.1f} {round(sum(r["prompt_tokens"] for r in rows) / len(rows))}')
PY
)
  # llama.cpp with one KV cache for all sequences and with one stream each: the better one counts.
  for kv in unified split; do
    GGML_BACKEND_DIR=$bins "$harness" "$gguf" "$threads" "$n" "$prompt_tokens" "$gen" "$kv" > "$out/llamacpp_${n}_$kv.json"
  done
  python3 - "$n" "$prompt_tokens" "$slkv_tok_s" "$out/llamacpp_${n}_unified.json" "$out/llamacpp_${n}_split.json" <<'PY' | tee -a "$out/table.md"
import json, sys
n, prompt, slkv = sys.argv[1], sys.argv[2], float(sys.argv[3])
llama = max((json.load(open(path)) for path in sys.argv[4:]), key=lambda r: r["output_tok_s"])
print(f"| {n} | {prompt} | {slkv:.1f} | {llama['output_tok_s']:.1f} ({llama['kv']}) | {slkv / llama['output_tok_s']:.2f} | {llama['decode_tok_s']:.1f} |")
PY
done
