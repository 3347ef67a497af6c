// Training-step benchmark (Netloom side): ms per step (zero_grad + forward + cross-entropy
// + backward + optimiser step) on random data for the workloads of train_workloads.h, at 1
// and 2 threads; median of 30 steps after 5 warm-up steps. bench_train_pytorch.py measures
// PyTorch the same way; run_train.sh runs both and prints the ratios.
// NETLOOM_DIRECT_CONV=off runs the convolutions on the GEMM paths only (what they were
// before the direct tiles), so both can be timed side by side.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench_common.h"
#include "engine/backends/cpu/conv_direct.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/optim/optim.h"
#include "train_workloads.h"

using namespace nl;

int main(int argc, char** argv) {
  // Optional: one workload by name, then one thread count (default: 1 and 2).
  const char* only = argc > 1 ? argv[1] : nullptr;
  const std::vector<int> thread_counts = argc > 2 ? std::vector<int>{std::atoi(argv[2])} : std::vector<int>{1, 2};
  struct Workload {
    const char* name;
    int64_t batch;
    Shape sample;
    bool adam;
  };
  std::vector<Workload> workloads = {{"mlp_mnist_b128_adam", 128, {1, 28, 28}, true},
                                     {"cnn_mnist_b64_sgd", 64, {1, 28, 28}, false},
                                     {"resnet_cifar_b64_sgd", 64, {3, 32, 32}, false}};
  const int warmup = 5, steps = 30;
  const char* direct = std::getenv("NETLOOM_DIRECT_CONV");
  if (direct && std::strcmp(direct, "off") == 0) cpu::set_direct_conv_isa(cpu::DirectConvIsa::Off);
  for (const Workload& w : workloads) {
    if (only && std::strcmp(only, w.name) != 0) continue;
    for (int threads : thread_counts) {
      set_num_threads(threads);
      manual_seed(0);
      auto model = bench::make_workload_model(w.name);
      std::shared_ptr<optim::Optimizer> opt;
      if (w.adam) opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-3});
      else opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
      Shape in_shape = w.sample;
      in_shape.insert(0, w.batch);
      Tensor x = randn(in_shape);
      Tensor y = uniform({w.batch}, 0, 10).to(DType::Int64);
      std::vector<double> times;
      for (int s = 0; s < warmup + steps; ++s) {
        double t0 = bench::now_seconds();
        opt->zero_grad();
        Tensor loss = cross_entropy(model->forward(x), y);
        loss.backward();
        opt->step();
        double t1 = bench::now_seconds();
        if (s >= warmup) times.push_back((t1 - t0) * 1e3);
      }
      std::printf("{\"bench\":\"train_step\",\"framework\":\"netloom\",\"workload\":\"%s\",\"threads\":%d,"
                  "\"ms_per_step\":%.3f}\n",
                  w.name, threads, bench::median(times));
      std::fflush(stdout);
    }
  }
  return 0;
}
