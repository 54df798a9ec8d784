# Sourced by the bench_*.sh scripts: bench_model NAME MODEL_DIR [slkv bench flags]
# runs `slkv bench --json` (llama.cpp beside it) and keeps its JSON line in
# $out/NAME.json. Needs $bin, $threads and $out set.
bench_model() {
  local name=$1 model=$2
  shift 2
  echo "== $name" >&2
  "$bin" bench --model "$model" --threads "$threads" --json "$@" | tee "$out/$name.json"
}
