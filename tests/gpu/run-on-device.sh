#!/usr/bin/env bash
# Builds the engine (no Qt) with the CUDA backend and runs the GPU tests and benchmarks, on
# a GPU machine that has only the CUDA toolkit, CMake, Ninja, a C++ compiler and PyTorch
# (the device machine of DEVELOPERS.md). The engine's few libraries come from .gpu-deps/
# (Debian packages fetched beforehand by tests/gpu/fetch-device-deps.sh and carried along),
# unpacked into a private folder, never over /.
#
#   bash tests/gpu/run-on-device.sh [OUT_DIR] [--tests-only|--bench-only]
#
# Writes build.log, tests.log and bench.jsonl into OUT_DIR (default: build-gpu-out/).
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-build-gpu-out}"
mode="${2:-all}"
mkdir -p "$out"
sysroot=/tmp/netloom-gpu-sysroot
build=build-device

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/device.txt"
nvcc --version | tail -1

echo "== unpacking .gpu-deps into $sysroot"
mkdir -p "$sysroot"
if compgen -G ".gpu-deps/*.deb" >/dev/null; then
  for deb in .gpu-deps/*.deb; do dpkg-deb -x "$deb" "$sysroot" || dpkg -x "$deb" "$sysroot"; done
else
  echo "no .gpu-deps/*.deb: relying on the machine's own libraries"
fi
arch_dir=$sysroot/usr/lib/x86_64-linux-gnu
# Debian's libz.so is an absolute link to Debian's own libz.so.1.2.13: point it at the zlib
# this machine has (every Linux has one) when that file is not there.
if [ -L "$arch_dir/libz.so" ] && [ ! -e "$arch_dir/libz.so" ]; then
  system_z=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 /usr/lib64/libz.so.1 2>/dev/null | head -1)
  if [ -n "$system_z" ]; then ln -sf "$system_z" "$arch_dir/libz.so"; else rm -f "$arch_dir/libz.so"; fi
fi
export LD_LIBRARY_PATH="$arch_dir/openblas-openmp:$arch_dir:${LD_LIBRARY_PATH:-}"
# The GPU's own architecture only: the full sm_80/sm_90/PTX set is built in CI.
cuda_arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
cuda_arch=${cuda_arch:-90}

# cuDNN: the toolkit's when it has one, else the one PyTorch's wheels bring (nvidia-cudnn).
cudnn_args=()
if [ ! -f /usr/local/cuda/include/cudnn.h ]; then
  cudnn_dir=$(python3 -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))" 2>/dev/null ||
              python3 -c "import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])" 2>/dev/null || true)
  cudnn_lib=$(ls "$cudnn_dir"/lib/libcudnn.so* 2>/dev/null | head -1)
  if [ -n "$cudnn_dir" ] && [ -f "$cudnn_dir/include/cudnn.h" ] && [ -n "$cudnn_lib" ]; then
    echo "cuDNN from $cudnn_dir"
    cudnn_args=(-DNETLOOM_CUDNN_INCLUDE="$cudnn_dir/include" -DNETLOOM_CUDNN_LIB="$cudnn_lib")
    export LD_LIBRARY_PATH="$cudnn_dir/lib:$LD_LIBRARY_PATH"
  else
    echo "no cuDNN found (neither /usr/local/cuda nor PyTorch's nvidia-cudnn)"
  fi
fi

echo "== configuring (sm_${cuda_arch})"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETLOOM_ENGINE_ONLY=ON -DNETLOOM_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${cuda_arch}-real" \
  -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON \
  -DCMAKE_PREFIX_PATH="$sysroot/usr" -DCMAKE_LIBRARY_PATH="$arch_dir" -DCMAKE_INCLUDE_PATH="$sysroot/usr/include" \
  "${cudnn_args[@]}" \
  >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
echo "== building"
start=$(date +%s)
cmake --build "$build" -j "$(nproc)" >>"$out/build.log" 2>&1 || { grep -E 'error|FAILED' "$out/build.log" | head -40; exit 1; }
echo "built in $(( $(date +%s) - start )) s"

status=0
if [ "$mode" != "--bench-only" ]; then
  echo "== GPU tests"
  (cd "$build" && ctest --output-on-failure -j 4 -R '^gpu\.') 2>&1 | tee "$out/tests.log"
  status=${PIPESTATUS[0]}
  grep -h -E '^(PASS|FAIL)' "$build"/Testing/Temporary/LastTest.log >"$out/cases.txt" 2>/dev/null || true
fi
if [ "$mode" != "--tests-only" ]; then
  echo "== GPU benchmarks beside PyTorch"
  if [ -x tests/gpu/run_gpu_bench.sh ] || [ -f tests/gpu/run_gpu_bench.sh ]; then
    bash tests/gpu/run_gpu_bench.sh "$build" 2>&1 | tee "$out/bench.jsonl"
  else
    echo "tests/gpu/run_gpu_bench.sh is missing"
  fi
fi
exit $status
