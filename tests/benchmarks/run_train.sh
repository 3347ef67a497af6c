#!/usr/bin/env bash
# make bench-train: Netloom and PyTorch (Debian's python3-torch) on the same training
# workloads in one run; prints both sides' JSON lines, then one comparison line per workload
# (best of 1 and 2 threads on each side; ratio > 1 means Netloom is faster).
set -euo pipefail
build=${1:-build}
here=$(dirname "$0")
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "bench-train needs PyTorch: apt-get install python3-torch" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for w in mlp_mnist_b128_adam cnn_mnist_b64_sgd resnet_cifar_b64_sgd; do
  # Interleave per workload so both frameworks see similar machine load.
  "$build/tests/benchmarks/bench_train" "$w" | tee -a "$out"
  /usr/bin/python3 "$here/bench_train_pytorch.py" "$w" | tee -a "$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for w in dict.fromkeys(r["workload"] for r in rows):
    best = {f: min(r["ms_per_step"] for r in rows if r["workload"] == w and r["framework"] == f)
            for f in ("netloom", "pytorch")}
    print(json.dumps({"bench": "train_step_compare", "workload": w, "netloom_ms": best["netloom"],
                      "pytorch_ms": best["pytorch"], "speedup": round(best["pytorch"] / best["netloom"], 3)}))
PY
