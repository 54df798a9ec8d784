#!/usr/bin/env bash
# Issue 6 on one GPU, in one go (~10 minutes of machine time):
#   - the CUDA tests,
#   - a TP-8 shard of a 70B-class model with random BF16 weights (hidden 8192,
#     80 layers, 8 query / 1 KV heads of 128, FFN 3584, vocab 16032; 17.7 GB),
#     written to /tmp once,
#   - `slkv bench-decode --device cuda` over batch 1,8,32 x context 4K,16K,32K
#     with full KV, then with half the layers windowed (--lazy-fraction 0.5),
#   - (part "nographs") batch 1 and 8 at 4K without and with CUDA graphs,
#   - (part "sessions") `slkv bench-sessions --device cuda` on stories260K:
#     host<->device KV copy GB/s (restore and park) and the session figures.
# SLKV_GPU_LAYERS (default 80) and SLKV_GPU_CONTEXTS (default 4096,16384,32768)
# shrink the model and the grid, and SLKV_GPU_BENCH_LIMIT (default 300 s) caps
# each bench-decode run, to fit a shorter lease.
# Usage:
#   bash scripts/bench_gpu.sh OUT_DIR [PARTS]  run it (on the GPU machine); PARTS is a
#                                             comma list of tests,full,lazy,nographs,sessions
#                                             (default: tests,full,lazy); one device call allows 600 s, so run
#                                             "tests,full" and "lazy" as two calls if needed
#   bash scripts/bench_gpu.sh --make-bundle  build the bundle (here, where the dependencies are)
# A GPU machine that cannot reach a package registry cannot install slkv's
# build dependencies, so when gpu-bundle/bundle.tar.gz exists (the CUDA build's
# binaries, the non-CUDA shared libraries they need, and stories260K for the
# tests) the run uses it instead of building; carry gpu-bundle (git-ignored).
# Without a bundle it builds with scripts/build.sh into $SLKV_BUILD_DIR.
# Every step prints progress and has its own time limit; outputs go to OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle_dir=gpu-bundle

if [[ ${1:-} == --make-bundle ]]; then
  build=${SLKV_BUILD_DIR:-build-gpu}
  # x86-64-v4 (AVX-512), not -march=native: the GPU machine's CPU may differ from this one.
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSLKV_CUDA=ON -DSLKV_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v4 \
    -DSLKV_BENCH=OFF \
    -DCMAKE_CUDA_ARCHITECTURES=90
  cmake --build "$build" -j "$(nproc)" --target slkv slkv_tests
  staging=$(mktemp -d)
  mkdir -p "$staging/bin" "$staging/lib" "$staging/shared/models"
  cp "$build/slkv" "$build/slkv_tests" "$staging/bin/"
  # Every resolved library except the C/C++ runtime and CUDA's (the GPU machine has its own, newer ones).
  ldd "$build/slkv" "$build/slkv_tests" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt|libnccl)\.so' |
    while read -r lib; do cp -L "$lib" "$staging/lib/"; done
  cp -r ../shared/models/stories260K "$staging/shared/models/"
  mkdir -p "$bundle_dir"
  tar czf "$bundle_dir/bundle.tar.gz" -C "$staging" .
  rm -rf "$staging"
  echo "wrote $bundle_dir/bundle.tar.gz ($(du -h "$bundle_dir/bundle.tar.gz" | cut -f1)); carry $bundle_dir"
  exit 0
fi

out=${1:?usage: bash scripts/bench_gpu.sh OUT_DIR [tests,full,lazy] | --make-bundle}
parts=,${2:-tests,full,lazy},
wants() { [[ $parts == *",$1,"* ]]; }
mkdir -p "$out"
start=$SECONDS
say() { echo "[bench_gpu $((SECONDS - start))s] $*" | tee -a "$out/progress.log" >&2; }
nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version --format=csv >"$out/gpu.txt" 2>&1 || true
say "GPU: $(tail -n +2 "$out/gpu.txt" | head -1)"

# ---- the binaries ----
if [[ -f $bundle_dir/bundle.tar.gz ]]; then
  root=/tmp/slkv-bundle
  rm -rf "$root" && mkdir -p "$root" && tar xzf "$bundle_dir/bundle.tar.gz" -C "$root"
  # CUDA's libraries from the machine: the toolkit, else the pip wheels (NCCL ships that way).
  cuda_dirs=""
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
    ldconfig -p | grep -q "$lib" && continue
    found=$(find /usr/local/cuda/ /usr/local/cuda/lib64/ /usr/lib /opt -name "$lib" 2>/dev/null | head -1 || true)
    [[ -n $found ]] && cuda_dirs="$cuda_dirs:$(dirname "$found")"
  done
  export LD_LIBRARY_PATH="$root/lib$cuda_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  bin=$root/bin/slkv
  tests=$root/bin/slkv_tests
  export SLKV_SHARED=$root/shared
  if ldd "$bin" "$tests" | grep -q "not found"; then
    ldd "$bin" "$tests" | grep "not found" | sort -u | tee -a "$out/progress.log" >&2
    say "missing shared libraries: stopping"
    exit 1
  fi
  say "using the bundle ($root)"
else
  build=${SLKV_BUILD_DIR:-build-gpu}
  say "building into $build"
  SLKV_BUILD_DIR=$build SLKV_CMAKE_ARGS="-DSLKV_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 ${SLKV_CMAKE_ARGS:-}" \
    timeout 400 bash scripts/build.sh >"$out/build.log" 2>&1 || { say "build failed, see build.log"; exit 1; }
  bin=$build/slkv
  tests=$build/slkv_tests
fi

# ---- the CUDA tests (ctest -R 'Cuda|Nccl|DeviceMemoryPool' selects the same) ----
if wants tests; then
  say "CUDA tests"
  status=0
  timeout 150 "$tests" --gtest_filter='*Cuda*:*Nccl*:*DeviceMemoryPool*' >"$out/cuda-tests.log" 2>&1 ||
    status=$?
  # gtest's summary: how many passed, were skipped (no GPU, or too few for a layout) and failed.
  summary=$(grep -E '^\[ +(PASSED|SKIPPED|FAILED) +\] [0-9]+ test' "$out/cuda-tests.log" | tr -s ' ' | tr '\n' ' ')
  if [[ $status == 0 ]]; then say "CUDA tests: $summary"; else
    say "CUDA tests FAILED (exit $status): $summary; see cuda-tests.log; benchmarking anyway"; fi
fi
if wants sessions; then
  say "bench-sessions (stories260K on the GPU)"
  timeout 200 "$bin" bench-sessions --model "${SLKV_SHARED:-../shared}/models/stories260K" --device cuda \
    --conversations 8 --copy-bytes 1GiB --sink 4 --recent 32 --obs-window 8 --lazy-threshold 0.5 \
    --json "$out/sessions.json" >"$out/sessions.md" 2>"$out/sessions.log" || say "bench-sessions exited $?"
  head -8 "$out/sessions.md" >&2
fi
wants full || wants lazy || wants nographs || exit 0

# ---- the model: one TP-8 shard of a Llama-3-70B-shaped model ----
layers=${SLKV_GPU_LAYERS:-80}
model=${SLKV_GPU_MODEL:-/tmp/slkv-70b-tp8-shard-$layers}
if [[ ! -f $model/config.json ]]; then
  say "writing $model"
  timeout 240 "$bin" make-test-model --out "$model" --architecture llama3 --hidden 8192 --layers "$layers" --heads 8 \
    --kv-heads 1 --head-dim 128 --ffn 3584 --vocab 16032 --context 131072 --dtype bf16 --shards 8 \
    >"$out/make-model.log" 2>&1
fi
say "model: $(du -sh "$model" | cut -f1)"

# ---- the benchmark: contexts ascending, few steps, each run time-boxed ----
grid=(--model "$model" --device cuda --batch 1,8,32 --context "${SLKV_GPU_CONTEXTS:-4096,16384,32768}" --steps 8 --fill copy
  --prefill-chunk 4096)
run_bench() {
  local name=$1 limit=$2
  shift 2
  say "bench-decode $name"
  # --max-seconds skips the points left before the hard limit kills the run; stderr keeps per-point progress.
  timeout "$limit" "$bin" bench-decode "${grid[@]}" --max-seconds $((limit - 90)) "$@" --json \
    >"$out/decode-$name.json" 2> >(tee "$out/decode-$name.log" >&2) || say "bench-decode $name exited $?"
}
bench_limit=${SLKV_GPU_BENCH_LIMIT:-300}
if wants full; then run_bench full "$bench_limit"; fi
# Batch 1 and 8 at 4K, without and then with CUDA graphs: what the graphs save.
if wants nographs; then
  grid=(--model "$model" --device cuda --batch 1,8 --context 4096 --steps 8 --fill copy --prefill-chunk 4096)
  (export SLKV_CUDA_GRAPHS=0 && run_bench nographs 150)
  run_bench graphs 150
fi
if wants lazy; then run_bench lazy50 "$bench_limit" --lazy-fraction 0.5 --sink 4 --recent 1024; fi
say "done; outputs in $out"
ls -la "$out" >&2
