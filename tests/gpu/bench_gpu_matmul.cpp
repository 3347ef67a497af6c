// GPU matmul benchmark (Netloom side): achieved TFLOP/s of Netloom's matmul op on cuda:0
// (through the Tensor API, output allocation included, as torch.matmul allocates too) for
// square n×n×n products, float32 (TF32 tensor cores, Netloom's default) and bfloat16.
// bench_gpu_matmul_pytorch.py measures torch.matmul (cuBLAS) the same way; run_gpu_bench.sh
// joins the two into ratios (target >= 0.8).
//
// Each measurement is a batch of back-to-back calls between two device synchronizes
// (launch gaps amortised), the median of 7 batches after warm-up.
//
//   bench_gpu_matmul [--sizes 1024,2048,4096]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/ops/ops.h"
#include "tests/benchmarks/bench_common.h"

using namespace nl;

namespace {

// Calls per timed batch: about 4 TFLOP of work, at least 10 and at most 500 calls.
int calls_per_batch(double flops) {
  int r = static_cast<int>(4e12 / flops);
  return r < 10 ? 10 : (r > 500 ? 500 : r);
}

double tflops(int64_t n, DType dtype) {
  const Device cuda = Device::cuda(0);
  Tensor a = randn({n, n}).to(dtype).to(cuda), b = randn({n, n}).to(dtype).to(cuda);
  const double flops = 2.0 * n * n * n;
  const int reps = calls_per_batch(flops);
  for (int i = 0; i < 3; ++i) matmul(a, b);  // warm-up: cuBLAS handles, workspaces, allocator
  synchronize(cuda);
  std::vector<double> per_call;
  for (int batch = 0; batch < 7; ++batch) {
    const double t0 = bench::now_seconds();
    for (int r = 0; r < reps; ++r) matmul(a, b);
    synchronize(cuda);
    per_call.push_back((bench::now_seconds() - t0) / reps);
  }
  return flops / bench::median(per_call) / 1e12;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {1024, 2048, 4096};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
      sizes.clear();
      for (char* s = argv[++i]; *s;) {
        sizes.push_back(std::strtoll(s, &s, 10));
        if (*s == ',') ++s;
        else if (*s) break;
      }
    } else {
      std::fprintf(stderr, "usage: bench_gpu_matmul [--sizes 1024,2048,4096]\n");
      return 2;
    }
  }
  if (!backend_available(Device::cuda(0))) {
    std::fprintf(stderr, "bench_gpu_matmul: no CUDA device: %s\n", device_unavailable_reason(Device::cuda(0)).c_str());
    return 77;
  }
  for (int64_t n : sizes) {
    for (auto [dtype, name] : {std::pair{DType::Float32, "tf32"}, std::pair{DType::BFloat16, "bf16"}}) {
      try {
        std::printf("{\"bench\":\"matmul\",\"n\":%lld,\"dtype\":\"%s\",\"netloom_tflops\":%.2f}\n", (long long)n, name,
                    tflops(n, dtype));
      } catch (const std::exception& e) {
        std::printf("{\"bench\":\"matmul\",\"n\":%lld,\"dtype\":\"%s\",\"netloom_error\":true}\n", (long long)n, name);
        std::fprintf(stderr, "bench_gpu_matmul: n=%lld %s: %s\n", (long long)n, name, e.what());
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
