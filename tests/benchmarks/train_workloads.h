// The three training workloads of the training benchmark, built with nl::nn exactly as
// tests/benchmarks/bench_train_pytorch.py builds them with torch.nn.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/nn.h"

namespace nl::bench {

// conv3x3 BN ReLU conv3x3 BN, plus the input, then ReLU.
class BasicBlock : public nn::Module {
 public:
  explicit BasicBlock(int64_t channels) {
    nn::Conv2dOptions o{.padding = {1, 1}, .bias = false};
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(channels, channels, std::array<int64_t, 2>{3, 3}, o));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(channels));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(channels, channels, std::array<int64_t, 2>{3, 3}, o));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(channels));
  }
  Tensor forward(const Tensor& x) override {
    // BatchNorm → ReLU as Netloom's fused op (what nn::Sequential does by itself); PyTorch's
    // eager mode has none and runs the two.
    Tensor h = bn1->forward_relu(conv1->forward(x));
    return relu(add(bn2->forward(conv2->forward(h)), x));
  }
  std::string type_name() const override { return "BasicBlock"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
};

inline std::shared_ptr<nn::Module> make_workload_model(const std::string& name) {
  using nn::ModulePtr;
  auto conv = [](int64_t in, int64_t out, int64_t stride, bool bias) {
    return std::make_shared<nn::Conv2d>(
        in, out, std::array<int64_t, 2>{3, 3},
        nn::Conv2dOptions{.stride = {stride, stride}, .padding = {1, 1}, .bias = bias});
  };
  if (name == "mlp_mnist_b128_adam")
    return std::make_shared<nn::Sequential>(std::vector<ModulePtr>{
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 512), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(512, 512), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(512, 10)});
  if (name == "cnn_mnist_b64_sgd")
    return std::make_shared<nn::Sequential>(std::vector<ModulePtr>{
        conv(1, 32, 1, true), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), conv(32, 64, 1, true),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(3136, 128), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(128, 10)});
  if (name == "resnet_cifar_b64_sgd")
    return std::make_shared<nn::Sequential>(std::vector<ModulePtr>{
        conv(3, 32, 1, false), std::make_shared<nn::BatchNorm2d>(32), std::make_shared<nn::ReLU>(),
        std::make_shared<BasicBlock>(32), conv(32, 64, 2, false), std::make_shared<nn::BatchNorm2d>(64),
        std::make_shared<nn::ReLU>(), std::make_shared<BasicBlock>(64), std::make_shared<nn::AdaptiveAvgPool2d>(1),
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(64, 10)});
  return nullptr;
}

}  // namespace nl::bench
