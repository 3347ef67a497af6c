// ConvTranspose2d (the gradient of Conv2d with respect to its input, used to upsample), with
// torch.nn.ConvTranspose2d's parameter names, shapes ([in, out / groups, kH, kW] weight) and
// default initialisation.
#pragma once
#include <array>

#include "engine/core/generator.h"
#include "engine/nn/module.h"

namespace nl::nn {

struct ConvTranspose2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};         // removed from each side of the full output
  std::array<int64_t, 2> output_padding{0, 0};  // extra rows/columns at the bottom/right
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  Generator* gen = nullptr;
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel,
                  const ConvTranspose2dOptions& opts = {});
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel, const ConvTranspose2dOptions& opts = {})
      : ConvTranspose2d(in_channels, out_channels, {kernel, kernel}, opts) {}

  using Module::forward;
  // [N, in, H, W] → [N, out, (H - 1) s - 2 p + d (k - 1) + output_padding + 1, ...]
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }

  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel;
  ConvTranspose2dOptions options;
  Tensor weight;  // [in, out / groups, kH, kW]
  Tensor bias;    // [out] or undefined
};

}  // namespace nl::nn
