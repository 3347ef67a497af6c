// Convolution layers: Conv2d (NCHW) and Conv1d (NCL, run as a conv2d over [N, C, 1, L]),
// with torch.nn.Conv2d/Conv1d's parameter names, shapes and default initialisation.
#pragma once
#include <array>

#include "engine/core/generator.h"
#include "engine/nn/module.h"

namespace nl::nn {

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  bool same_padding = false;  // padding="same": output size = input size; stride must be 1
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  Generator* gen = nullptr;  // for the initial weights; null = default generator
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, const Conv2dOptions& opts = {});
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, const Conv2dOptions& opts = {})
      : Conv2d(in_channels, out_channels, {kernel, kernel}, opts) {}

  using Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] → [N, out, H', W']
  std::string type_name() const override { return "Conv2d"; }

  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel;
  Conv2dOptions options;
  Tensor weight;  // [out, in / groups, kH, kW]
  Tensor bias;    // [out] or undefined
};

struct Conv1dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  bool same_padding = false;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  Generator* gen = nullptr;
};

class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel, const Conv1dOptions& opts = {});

  using Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, in, L] → [N, out, L']
  std::string type_name() const override { return "Conv1d"; }

  int64_t in_channels, out_channels, kernel;
  Conv1dOptions options;
  Tensor weight;  // [out, in / groups, k]
  Tensor bias;    // [out] or undefined
};

}  // namespace nl::nn
