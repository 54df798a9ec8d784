#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of slkv from Debian packages.
# Safe to run repeatedly; skips apt when everything is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin
  libboost-dev
  libcxxopts-dev nlohmann-json3-dev
  libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev
  gnuplot-nox python3-numpy python3-jinja2 python3-jieba
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "slkv setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The official `openai` npm client, for the server's client test (tests/tools/openai_client.mjs),
# in a cache directory outside the tree; tests find it through SLKV_NPM_DIR.
npm_dir=${SLKV_NPM_DIR:-$HOME/.cache/slkv-npm}
if command -v npm > /dev/null && [[ ! -f "$npm_dir/node_modules/openai/package.json" ]]; then
  echo "slkv setup: installing the openai npm package into $npm_dir"
  mkdir -p "$npm_dir"
  # Without the npm registry the client test skips, saying why; nothing else needs it.
  npm install --silent --no-audit --no-fund --prefix "$npm_dir" openai@4 > /dev/null ||
    echo "slkv setup: could not install the openai npm package (its client test will skip)"
fi
