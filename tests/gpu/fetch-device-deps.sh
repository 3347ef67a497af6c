#!/usr/bin/env bash
# Downloads (does not install) the Debian packages the engine builds against into
# .gpu-deps/, for tests/gpu/run-on-device.sh: the GPU machine has the CUDA toolkit, CMake
# and a compiler but no package registry, so these travel with the working tree.
# Run here, on a machine with Debian's apt; the folder is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu-deps
cd .gpu-deps
packages=(libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev libgfortran5 libquadmath0
          nlohmann-json3-dev libpng-dev libpng16-16 libjpeg62-turbo libjpeg62-turbo-dev zlib1g-dev)
for p in "${packages[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p"
done
du -sh .
