// Per-op overhead benchmark: a chain of 1,000 one-element adds with autograd on, forward
// plus backward, reported as microseconds per op (median of 200 chains). Also reports the
// forward alone and the same chain under NoGradGuard.
#include <cstdio>

#include "bench_common.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/ops/ops.h"

using namespace nl;

int main() {
  set_num_threads(1);
  const int chain = 1000, runs = 200;
  Tensor x = ones({1}).requires_grad_();
  Tensor c = full({1}, 0.5).requires_grad_();
  std::vector<double> fwd, total, nograd;
  for (int r = 0; r < runs + 10; ++r) {
    double t0 = bench::now_seconds();
    Tensor y = x;
    for (int i = 0; i < chain; ++i) y = add(y, c);
    double t1 = bench::now_seconds();
    y.backward();
    double t2 = bench::now_seconds();
    {
      NoGradGuard ng;
      Tensor z = x;
      for (int i = 0; i < chain; ++i) z = add(z, c);
    }
    double t3 = bench::now_seconds();
    x.zero_grad(), c.zero_grad();
    if (r < 10) continue;  // warm-up
    fwd.push_back((t1 - t0) / chain * 1e6);
    total.push_back((t2 - t0) / chain * 1e6);
    nograd.push_back((t3 - t2) / chain * 1e6);
  }
  std::printf(
      "{\"bench\":\"op_overhead\",\"op\":\"add_1elem\",\"chain\":%d,\"us_per_op_fwd_bwd\":%.3f,"
      "\"us_per_op_fwd\":%.3f,\"us_per_op_nograd\":%.3f,\"target_us\":1.0}\n",
      chain, bench::median(total), bench::median(fwd), bench::median(nograd));
  return 0;
}
