// GPU training-step benchmark (Netloom side): ms per step (zero_grad + forward +
// cross-entropy + backward + optimiser step) on cuda:0 for the CPU benchmark's models
// (tests/benchmarks/train_workloads.h) at small and large batches, plus a ResNet-18 on
// 3×224×224. Data are random tensors already on the device; each step ends with a device
// synchronize so the time covers the GPU's work, not just the launches; the median of
// --steps steps after warm-up steps (cuDNN picks its algorithms in those).
// bench_gpu_train_pytorch.py times PyTorch the same way; run_gpu_bench.sh runs both and
// joins the lines. Engine-only (no Qt).
//
//   bench_gpu_train [--workload NAME] [--steps N] [--warmup N] [--bf16] [--cuda-graphs]
//
// Prints one JSON line per workload: {"workload":..., "bf16":..., "netloom_ms":...}.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/backends/graph_capture.h"
#include "engine/nn/nn.h"
#include "engine/optim/optim.h"
#include "tests/emulated_device/emulated_device.h"
#include "tests/benchmarks/bench_common.h"
#include "tests/benchmarks/train_workloads.h"
#if __has_include("engine/core/autocast.h")
#include "engine/core/autocast.h"
#define NL_BENCH_HAVE_AUTOCAST 1
#endif

using namespace nl;

namespace {

// torchvision's BasicBlock: conv3x3(stride) BN ReLU conv3x3 BN, plus the input (through a
// strided 1×1 conv and BN when the shape changes), then ReLU.
class ResNetBlock : public nn::Module {
 public:
  ResNetBlock(int64_t in, int64_t out, int64_t stride) {
    auto conv3 = [](int64_t i, int64_t o, int64_t s) {
      return std::make_shared<nn::Conv2d>(i, o, std::array<int64_t, 2>{3, 3},
                                          nn::Conv2dOptions{.stride = {s, s}, .padding = {1, 1}, .bias = false});
    };
    conv1 = register_module("conv1", conv3(in, out, stride));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out));
    conv2 = register_module("conv2", conv3(out, out, 1));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out));
    if (stride != 1 || in != out) {
      down_conv = register_module(
          "downsample_conv", std::make_shared<nn::Conv2d>(in, out, std::array<int64_t, 2>{1, 1},
                                                          nn::Conv2dOptions{.stride = {stride, stride}, .bias = false}));
      down_bn = register_module("downsample_bn", std::make_shared<nn::BatchNorm2d>(out));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(bn1->forward(conv1->forward(x)));
    h = bn2->forward(conv2->forward(h));
    Tensor shortcut = down_conv ? down_bn->forward(down_conv->forward(x)) : x;
    return relu(add(h, shortcut));
  }
  std::string type_name() const override { return "ResNetBlock"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1, conv2, down_conv;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, down_bn;
};

// Standard ResNet-18 (ImageNet head): conv7×7/2 64, max pool 3/2, four stages of two
// blocks (64, 128, 256, 512 channels), global average pool, fc 1000.
std::shared_ptr<nn::Module> make_resnet18() {
  std::vector<nn::ModulePtr> layers = {
      std::make_shared<nn::Conv2d>(3, 64, std::array<int64_t, 2>{7, 7},
                                   nn::Conv2dOptions{.stride = {2, 2}, .padding = {3, 3}, .bias = false}),
      std::make_shared<nn::BatchNorm2d>(64), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(3, 2, 1)};
  int64_t in = 64;
  for (int64_t out : {64, 128, 256, 512}) {
    layers.push_back(std::make_shared<ResNetBlock>(in, out, out == 64 ? 1 : 2));
    layers.push_back(std::make_shared<ResNetBlock>(out, out, 1));
    in = out;
  }
  layers.push_back(std::make_shared<nn::AdaptiveAvgPool2d>(1));
  layers.push_back(std::make_shared<nn::Flatten>());
  layers.push_back(std::make_shared<nn::Linear>(512, 1000));
  return std::make_shared<nn::Sequential>(layers);
}

struct Workload {
  const char* name;
  const char* model;  // train_workloads.h name, or "resnet18"
  int64_t batch;
  Shape sample;
  int64_t classes;
  bool adam;
};

const std::vector<Workload> kWorkloads = {
    {"mlp_mnist_b128", "mlp_mnist_b128_adam", 128, {1, 28, 28}, 10, true},
    {"mlp_mnist_b512", "mlp_mnist_b128_adam", 512, {1, 28, 28}, 10, true},
    {"cnn_mnist_b64", "cnn_mnist_b64_sgd", 64, {1, 28, 28}, 10, false},
    {"cnn_mnist_b512", "cnn_mnist_b64_sgd", 512, {1, 28, 28}, 10, false},
    {"resnet_cifar_b64", "resnet_cifar_b64_sgd", 64, {3, 32, 32}, 10, false},
    {"resnet_cifar_b512", "resnet_cifar_b64_sgd", 512, {3, 32, 32}, 10, false},
    {"resnet18_imagenet_b128", "resnet18", 128, {3, 224, 224}, 1000, false},
};

// The text of an error message as a JSON string body.
std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') out += "\\n";
    else if ((unsigned char)c >= 0x20) out += c;
  }
  return out;
}

void usage() {
  std::fprintf(stderr, "usage: bench_gpu_train [--workload NAME] [--steps N] [--warmup N] [--bf16] [--cuda-graphs]\nworkloads:");
  for (const Workload& w : kWorkloads) std::fprintf(stderr, " %s", w.name);
  std::fprintf(stderr, "\n");
}

double run(const Workload& w, int warmup, int steps, bool bf16, bool graphs) {
  const Device cuda = Device::cuda(0);
  manual_seed(0);
  std::shared_ptr<nn::Module> model =
      std::strcmp(w.model, "resnet18") == 0 ? make_resnet18() : bench::make_workload_model(w.model);
  model->to(cuda);
  model->train();
  std::shared_ptr<optim::Optimizer> opt;
  if (w.adam) opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-3});
  else opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
  Shape in_shape = w.sample;
  in_shape.insert(0, w.batch);
  Tensor x = randn(in_shape).to(cuda);
  Tensor y = uniform({w.batch}, 0, (double)w.classes).to(DType::Int64).to(cuda);
  synchronize(cuda);

  auto step = [&] {
    opt->zero_grad();
    Tensor loss;
    {
#ifdef NL_BENCH_HAVE_AUTOCAST
      AutocastGuard autocast(bf16);
#else
      (void)bf16;  // main() refuses --bf16 without autocast
#endif
      loss = cross_entropy(model->forward(x), y);
    }
    loss.backward();
    opt->step();
  };
  std::vector<double> times;
  std::unique_ptr<CapturedGraph> graph;
  for (int s = 0; s < warmup + steps; ++s) {
    // --cuda-graphs: the warm-up runs eagerly (cuDNN's search, the optimiser's buffers),
    // then one step is captured and each timed step is one replay, as the trainer does.
    if (graphs && !graph && s == warmup) {
      const std::string blocker = opt->replay_blocker();
      NL_CHECK(blocker.empty(), "CUDA graphs off: ", blocker);
      opt->prepare_replay();
      graph = capture_graph(cuda, step);
    }
    const double t0 = bench::now_seconds();
    if (graph) {
      graph->replay();
      opt->count_replayed_step();
    } else {
      step();
    }
    synchronize(cuda);
    const double t1 = bench::now_seconds();
    if (s >= warmup) times.push_back((t1 - t0) * 1e3);
  }
  return bench::median(times);
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  int steps = 30, warmup = 10;
  bool bf16 = false, graphs = false, emulated = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--workload" && i + 1 < argc) only = argv[++i];
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--warmup" && i + 1 < argc) warmup = std::atoi(argv[++i]);
    else if (a == "--bf16") bf16 = true;
    else if (a == "--cuda-graphs") graphs = true;
    else if (a == "--emulated") emulated = true;
    else {
      usage();
      return 2;
    }
  }
  if (steps < 1 || warmup < 0) {
    usage();
    return 2;
  }
#ifndef NL_BENCH_HAVE_AUTOCAST
  if (bf16) {
    std::fprintf(stderr, "bench_gpu_train: --bf16 needs engine/core/autocast.h, which this build lacks\n");
    return 2;
  }
#endif
  // --emulated: a rehearsal of this program on the emulated cuda:0 (tests/emulated_device)
  // where no GPU answers, so a broken benchmark is found before the GPU minutes start. Its
  // times mean nothing.
  std::unique_ptr<nl::testing::EmulatedDevice> emulation;
  if (emulated) emulation = std::make_unique<nl::testing::EmulatedDevice>();
  if (!backend_available(Device::cuda(0))) {
    std::fprintf(stderr, "bench_gpu_train: no CUDA device: %s\n", device_unavailable_reason(Device::cuda(0)).c_str());
    return 77;
  }
  bool found = false;
  for (const Workload& w : kWorkloads) {
    if (!only.empty() && only != w.name) continue;
    found = true;
    try {
      const double ms = run(w, warmup, steps, bf16, graphs);
      std::printf("{\"workload\":\"%s\",\"bf16\":%s,\"cuda_graphs\":%s,\"netloom_ms\":%.3f}\n", w.name,
                  bf16 ? "true" : "false", graphs ? "true" : "false", ms);
    } catch (const std::exception& e) {
      // One failing workload (e.g. out of memory) does not hide the others' numbers.
      std::printf("{\"workload\":\"%s\",\"bf16\":%s,\"cuda_graphs\":%s,\"netloom_error\":\"%s\"}\n", w.name,
                  bf16 ? "true" : "false", graphs ? "true" : "false", json_escape(e.what()).c_str());
    }
    std::fflush(stdout);
  }
  if (!found) {
    usage();
    return 2;
  }
  return 0;
}
