#!/usr/bin/env bash
# One command for a new user: install, build, and generate text with the
# default model (../shared/models/stories260K). Extra arguments go to 'slkv generate'.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
model=${SLKV_MODEL:-${SLKV_SHARED:-../shared}/models/stories260K}
if [[ $# -eq 0 ]]; then set -- --prompt "Once upon a time" --max-new-tokens 120; fi
"${SLKV_BUILD_DIR:-build}/slkv" generate --model "$model" "$@"
