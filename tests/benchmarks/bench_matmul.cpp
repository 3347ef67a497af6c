// Matmul benchmark: GFLOP/s of Netloom's matmul op (through the Tensor API, output
// allocation included) next to raw cblas_sgemm on preallocated buffers, in the same run,
// for square sizes 256..2048 at 1 and 2 threads. Prints one JSON line per size × threads.
#include <cblas.h>

#include <cstdio>

#include "bench_common.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/ops/ops.h"

using namespace nl;

int main() {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t n : {256, 512, 1024, 2048}) {
      Tensor a = randn({n, n}), b = randn({n, n});
      Tensor c = zeros({n, n});
      const float* pa = a.data<float>();
      const float* pb = b.data<float>();
      float* pc = c.data<float>();
      const double flops = 2.0 * n * n * n;
      // Enough repetitions for ~0.3 s per measurement at typical rates, at least 3.
      int reps = std::max<int>(3, static_cast<int>(3e9 / flops));
      std::vector<double> t_raw, t_nl;
      matmul(a, b);  // warm-up (thread pool, page faults)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, pa, n, pb, n, 0.0f, pc, n);
      for (int r = 0; r < reps; ++r) {  // interleaved so both see the same machine load
        double t0 = bench::now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, pa, n, pb, n, 0.0f, pc, n);
        double t1 = bench::now_seconds();
        Tensor out = matmul(a, b);
        double t2 = bench::now_seconds();
        t_raw.push_back(t1 - t0);
        t_nl.push_back(t2 - t1);
      }
      double raw = flops / bench::median(t_raw) / 1e9, nl_rate = flops / bench::median(t_nl) / 1e9;
      std::printf(
          "{\"bench\":\"matmul\",\"n\":%ld,\"threads\":%d,\"netloom_gflops\":%.2f,\"sgemm_gflops\":%.2f,"
          "\"ratio\":%.3f}\n",
          (long)n, threads, nl_rate, raw, nl_rate / raw);
      std::fflush(stdout);
    }
  }
  return 0;
}
