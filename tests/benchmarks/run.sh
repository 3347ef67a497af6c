#!/usr/bin/env bash
# Runs every benchmark program and prints their JSON lines (make bench).
set -euo pipefail
build=${1:-build}
for b in "$build"/tests/benchmarks/bench_*; do
  [ -x "$b" ] || continue
  # bench_train runs beside PyTorch (make bench-train); bench_onnx_run beside ONNX Runtime
  # (tests/benchmarks/run_onnx_vs_ort.sh), since each needs a model or an oracle.
  case "$b" in *bench_train* | *bench_onnx_run*) continue ;; esac
  "$b"
done
