#!/usr/bin/env bash
# Runs every benchmark program and prints their JSON lines (make bench).
set -euo pipefail
build=${1:-build}
for b in "$build"/tests/benchmarks/bench_*; do
  [ -x "$b" ] || continue
  case "$b" in *bench_train*) continue ;; esac  # make bench-train runs it beside PyTorch
  "$b"
done
