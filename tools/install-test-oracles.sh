#!/usr/bin/env bash
# Installs the test oracles that come from npm rather than Debian: ONNX Runtime for Node
# (CPU only) for the ONNX export tests. Idempotent; never fails the build: without npm or a
# registry the ONNX Runtime test skips and says how to install it.
set -uo pipefail
ort_dir="$(dirname "$0")/../tests/importers/ort"
if [ -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "note: npm not found; the ONNX Runtime comparison test will be skipped" >&2
  exit 0
fi
echo "Installing onnxruntime-node (CPU) for the ONNX Runtime comparison test"
if ! (cd "$ort_dir" && ONNXRUNTIME_NODE_INSTALL_CUDA=skip timeout 600 npm install --no-audit --no-fund --silent); then
  echo "note: npm install failed; the ONNX Runtime comparison test will be skipped" >&2
fi
exit 0
