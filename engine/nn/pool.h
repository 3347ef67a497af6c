// Pooling layers (NCHW): MaxPool2d, AvgPool2d and AdaptiveAvgPool2d, as in torch.nn.
#pragma once
#include <array>

#include "engine/backends/backend.h"
#include "engine/nn/module.h"

namespace nl::nn {

class MaxPool2d : public Module {
 public:
  // stride defaults to the kernel size, as in PyTorch.
  explicit MaxPool2d(const Pool2dParams& params) : params(params) {}
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }

  Pool2dParams params;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dParams& params) : params(params) {}
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }

  Pool2dParams params;
};

// Averages over the windows PyTorch uses: output cell i covers input rows
// [floor(i H / oh), ceil((i + 1) H / oh)), so windows overlap when H is not a multiple of oh.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<int64_t, 2> output_size) : output_size(output_size) {}
  explicit AdaptiveAvgPool2d(int64_t output_size) : output_size{output_size, output_size} {}

  using Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] → [N, C, oh, ow]
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }

  std::array<int64_t, 2> output_size;
};

}  // namespace nl::nn
