#!/usr/bin/env bash
# Installs the Debian packages Netloom needs to build and test, only those missing
# (idempotent: no apt-get at all when everything is present).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-dev libopenblas-openmp-dev
  zlib1g-dev libpng-dev libjpeg-dev
  qt6-base-dev
  qt6-charts-dev libqt6opengl6-dev qt6-svg-dev  # training dashboard: charts, SVG export
  nlohmann-json3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgraphviz-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
