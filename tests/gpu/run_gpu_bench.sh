#!/usr/bin/env bash
# GPU benchmarks side by side with PyTorch, on the device machine: the training steps of
# bench_gpu_train(.cpp|_pytorch.py) and the matmul rates of bench_gpu_matmul(.cpp|_pytorch.py),
# run interleaved per workload so both see the same machine, then joined into one JSON line
# per workload:
#   {"workload":..., "bf16":..., "netloom_ms":..., "torch_ms":..., "ratio": torch_ms/netloom_ms,
#    "netloom_graphs_ms":..., "ratio_graphs": torch_ms/netloom_graphs_ms}   (small batches)
#   {"bench":"matmul", "n":..., "dtype":..., "netloom_tflops":..., "torch_tflops":..., "ratio": netloom/torch}
# ratio > 1 means Netloom is faster (training) or above cuBLAS's rate (matmul; target >= 0.8).
#
#   tests/gpu/run_gpu_bench.sh [BUILD_DIR] [--bf16] [--steps N] [--workload NAME] [--no-matmul]
# PYTHON overrides the interpreter (default python3, which must have PyTorch with CUDA).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=build
extra=()
only=""
matmul=1
while [ $# -gt 0 ]; do
  case "$1" in
    --bf16) extra+=(--bf16) ;;
    --steps) extra+=(--steps "$2"); shift ;;
    --workload) only="$2"; shift ;;
    --no-matmul) matmul=0 ;;
    -*) echo "run_gpu_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) build="$1" ;;
  esac
  shift
done
python=${PYTHON:-python3}
train_bin="$build/tests/gpu/gpu_bench_gpu_train"
matmul_bin="$build/tests/gpu/gpu_bench_gpu_matmul"
for b in "$train_bin" "$matmul_bin"; do
  [ -x "$b" ] || { echo "run_gpu_bench.sh: $b is missing; build it first (ninja -C $build $(basename "$b"))" >&2; exit 1; }
done
if ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "run_gpu_bench.sh: $python has no PyTorch with a CUDA device" >&2
  exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
workloads="mlp_mnist_b128 mlp_mnist_b512 cnn_mnist_b64 cnn_mnist_b512 resnet_cifar_b64 resnet_cifar_b512 resnet18_imagenet_b128"
[ -n "$only" ] && workloads="$only"
for w in $workloads; do
  # A crash on one side is reported and the run goes on.
  "$train_bin" --workload "$w" "${extra[@]}" | tee -a "$out" || echo "{\"workload\":\"$w\",\"netloom_error\":\"exit $?\"}" | tee -a "$out"
  # The small batches again with CUDA graphs (launch-bound: where replaying pays).
  case "$w" in
    *_b64|*_b128) "$train_bin" --workload "$w" --cuda-graphs "${extra[@]}" | tee -a "$out" || true ;;
  esac
  "$python" "$here/bench_gpu_train_pytorch.py" --workload "$w" "${extra[@]}" | tee -a "$out" ||
    echo "{\"workload\":\"$w\",\"torch_error\":\"exit $?\"}" | tee -a "$out"
done
if [ "$matmul" = 1 ]; then
  "$matmul_bin" | tee -a "$out" || true
  "$python" "$here/bench_gpu_matmul_pytorch.py" | tee -a "$out" || true
fi

# The joined lines (every line of the output is JSON, for bench.jsonl).
"$python" - "$out" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
train, mm = {}, {}
for r in rows:
    if r.get("bench") == "matmul":
        mm.setdefault((r["n"], r["dtype"]), {}).update(r)
    else:
        entry = train.setdefault((r["workload"], r.get("bf16", False)), {})
        if r.get("cuda_graphs"):
            entry["netloom_graphs_ms"] = r.get("netloom_ms")
            if "netloom_error" in r:
                entry["netloom_graphs_error"] = r["netloom_error"]
        else:
            entry.update(r)
for (w, bf16), r in train.items():
    out = {"workload": w, "bf16": bf16, "netloom_ms": r.get("netloom_ms"), "torch_ms": r.get("torch_ms")}
    if out["netloom_ms"] and out["torch_ms"]:
        out["ratio"] = round(out["torch_ms"] / out["netloom_ms"], 3)
    if r.get("netloom_graphs_ms"):
        out["netloom_graphs_ms"] = r["netloom_graphs_ms"]
        if out["torch_ms"]:
            out["ratio_graphs"] = round(out["torch_ms"] / r["netloom_graphs_ms"], 3)
    for k in ("netloom_error", "torch_error", "netloom_graphs_error"):
        if k in r:
            out[k] = r[k]
    print(json.dumps(out))
for (n, dtype), r in sorted(mm.items()):
    out = {"bench": "matmul", "n": n, "dtype": dtype, "netloom_tflops": r.get("netloom_tflops"),
           "torch_tflops": r.get("torch_tflops")}
    if out["netloom_tflops"] and out["torch_tflops"]:
        out["ratio"] = round(out["netloom_tflops"] / out["torch_tflops"], 3)
        out["meets_target_0.8"] = out["ratio"] >= 0.8
    print(json.dumps(out))
PY
