// Per-kernel side benchmark for the ResNet training workload (resnet_cifar_b64_sgd of
// train_workloads.h): each CPU kernel the step runs, at the workload's shapes, timed on its
// own. Prints one JSON line per kernel: wall ms and process CPU ms (median of `reps`) and
// the smallest CPU ms; CPU time is the steadier figure on a shared machine. Usage: bench_resnet_ops [threads] [reps]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>

#include "bench_common.h"
#include "engine/backends/cpu/conv_plan.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/ops/ops.h"

using namespace nl;

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void time_kernel(const std::string& name, int count, int reps, const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    const double w0 = bench::now_seconds(), c0 = cpu_seconds();
    f();
    wall.push_back((bench::now_seconds() - w0) * 1e3);
    cpu.push_back((cpu_seconds() - c0) * 1e3);
  }
  std::printf("{\"bench\":\"resnet_op\",\"op\":\"%s\",\"per_step\":%d,\"wall_ms\":%.3f,\"cpu_ms\":%.3f,"
              "\"min_cpu_ms\":%.3f}\n",
              name.c_str(), count, bench::median(wall), bench::median(cpu), *std::min_element(cpu.begin(), cpu.end()));
  std::fflush(stdout);
}

struct ConvCase {
  const char* name;
  int count;  // how many such convolutions one training step runs
  int64_t c, o, hw, stride;
  bool input_grad;
};

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 15;
  set_num_threads(threads);
  NoGradGuard no_grad;
  CpuBackend& be = cpu_backend();
  const int64_t n = 64;

  const ConvCase convs[] = {{"conv3to32", 1, 3, 32, 32, 1, false},
                            {"conv32to32", 2, 32, 32, 32, 1, true},
                            {"conv32to64_s2", 1, 32, 64, 32, 2, true},
                            {"conv64to64", 2, 64, 64, 16, 1, true},
                            // The second convolution of cnn_mnist_b64_sgd, so that a change
                            // to the conv kernels can be checked against that workload too.
                            {"cnn_conv32to64_14x14", 1, 32, 64, 14, 1, true}};
  for (const ConvCase& cc : convs) {
    Conv2dParams p;
    p.stride[0] = p.stride[1] = cc.stride;
    p.padding[0] = p.padding[1] = 1;
    const int64_t ohw = (cc.hw + 2 - 3) / cc.stride + 1;
    Tensor x = randn({n, cc.c, cc.hw, cc.hw}), w = randn({cc.o, cc.c, 3, 3}), go = randn({n, cc.o, ohw, ohw});
    Tensor y = Tensor::empty(go.shape()), gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape());
    // Each pass through the GEMM paths and through the direct tiles, back to back.
    for (const auto& [label, isa] : {std::pair{"", cpu::DirectConvIsa::Off}, std::pair{".direct", cpu::DirectConvIsa::Best}}) {
      cpu::set_direct_conv_isa(isa);
      const std::string base = std::string(cc.name) + label;
      time_kernel(base + ".forward", cc.count, reps, [&] { be.conv2d(x, w, Tensor(), y, p); });
      if (cc.input_grad)
        time_kernel(base + ".backward_input", cc.count, reps, [&] { be.conv2d_backward_input(go, w, gx, p); });
      time_kernel(base + ".backward_weight", cc.count, reps, [&] { be.conv2d_backward_weight(go, x, gw, p); });
    }
    cpu::set_direct_conv_isa(cpu::DirectConvIsa::Best);
  }

  struct Act {
    const char* name;
    int count;
    int64_t c, hw;
  };
  for (const Act& a : {Act{"act32x32x32", 3, 32, 32}, Act{"act64x16x16", 3, 64, 16}}) {
    Tensor x = randn({n, a.c, a.hw, a.hw}), g = randn(x.shape()), y = Tensor::empty(x.shape());
    Tensor gx = Tensor::empty(x.shape());
    Tensor w = randn({a.c}), b = randn({a.c}), rm = zeros({a.c}), rv = ones({a.c});
    Tensor sm = Tensor::empty({a.c}), si = Tensor::empty({a.c}), gw = Tensor::empty({a.c}), gb = Tensor::empty({a.c});
    const std::string base = a.name;
    time_kernel(base + ".batch_norm", a.count, reps,
                [&] { be.batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5, y, sm, si); });
    time_kernel(base + ".batch_norm_backward", a.count, reps,
                [&] { be.batch_norm_backward(g, x, w, sm, si, true, 1e-5, gx, gw, gb); });
    time_kernel(base + ".relu", a.count, reps, [&] { be.unary(UnaryOp::Relu, x, y, 0.f, 0.f); });
    time_kernel(base + ".relu_backward", a.count, reps,
                [&] { be.unary_backward(UnaryOp::Relu, g, x, y, gx, 0.f, 0.f); });
    time_kernel(base + ".add", 1, reps, [&] { be.binary(BinaryOp::Add, x, g, y); });
    time_kernel(base + ".empty_and_fill", a.count * 6, reps, [&] {
      Tensor t = Tensor::empty(x.shape());
      be.fill(t, 0.0);
    });
  }
  return 0;
}
