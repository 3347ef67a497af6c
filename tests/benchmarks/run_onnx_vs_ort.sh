#!/usr/bin/env bash
# `netloom run` latency on an imported ResNet-18 (torchvision, random weights, exported by
# PyTorch's own exporter) beside ONNX Runtime's CPU latency on the same file and thread count,
# at batch 1 and 8. Prints both engines' JSON lines and one ratio line per batch
# (ratio = ONNX Runtime ms / Netloom ms: above 1 means Netloom is faster).
#
#   bash tests/benchmarks/run_onnx_vs_ort.sh [BUILD_DIR] [THREADS] [REPEATS]
#
# Needs python3-torch/python3-torchvision (to write the model) and onnxruntime-node
# (tools/install-test-oracles.sh); says what is missing otherwise.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
threads=${2:-1}
repeats=${3:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "run_onnx_vs_ort: needs python3-torch and python3-torchvision (apt-get install them)" >&2
  exit 1
fi
if ! (cd "$root/tests/importers/ort" && node -e "require('onnxruntime-node')") 2>/dev/null; then
  echo "run_onnx_vs_ort: needs onnxruntime-node (bash tools/install-test-oracles.sh)" >&2
  exit 1
fi
/usr/bin/python3 "$root/tests/importers/make_torch_models.py" --resnet18 "$work" 2>/dev/null
model="$work/resnet18.onnx"
"$build/tests/benchmarks/bench_onnx_run" "$model" --batches 1,8 --threads "$threads" --repeats "$repeats" \
  | tee "$work/netloom.jsonl"
(cd "$root/tests/importers/ort" && NETLOOM_BENCH_DIMS='[1,3,224,224]' OMP_NUM_THREADS="$threads" \
  node bench_onnx.js "$model" 1,8 "$threads" "$repeats") | tee "$work/ort.jsonl"
/usr/bin/python3 - "$work/netloom.jsonl" "$work/ort.jsonl" <<'PY'
import json, sys
nl = {j["batch"]: j for j in map(json.loads, open(sys.argv[1]))}
ort = {j["batch"]: j for j in map(json.loads, open(sys.argv[2]))}
for b in sorted(nl):
    if b in ort:
        print(json.dumps({"bench": "onnx_run_ratio", "model": "resnet18", "batch": b, "threads": nl[b]["threads"],
                          "netloom_ms": nl[b]["median_ms"], "onnxruntime_ms": ort[b]["median_ms"],
                          "ort_over_netloom": round(ort[b]["median_ms"] / nl[b]["median_ms"], 3)}))
PY
