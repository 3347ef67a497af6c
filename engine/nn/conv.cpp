// Conv2d and Conv1d layers over the conv2d op (see conv.h).
#include "engine/nn/conv.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/conv.h"
#include "engine/ops/movement.h"

namespace nl::nn {
namespace {

// PyTorch's default for every conv: kaiming_uniform_(a = sqrt(5)) weight, bias U(±1/sqrt(fan_in)).
void init_conv(Tensor& weight, Tensor& bias, Generator* gen) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, "leaky_relu", gen);
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt((double)init::calculate_fans(weight).fan_in);
    init::uniform_(bias, -bound, bound, gen);
  }
}

// Appends `n` zeros at the end of `dim`: the extra row/column of an odd "same" padding,
// which PyTorch also puts on the bottom/right.
Tensor pad_end(const Tensor& x, int64_t dim, int64_t n) {
  if (n == 0) return x;
  Shape shape = x.shape();
  shape[dim] = n;
  return cat({x, zeros(shape, {.dtype = x.dtype(), .device = x.device()})}, dim);
}

void check_channels(const char* layer, int64_t in, int64_t out, int64_t groups) {
  NL_CHECK(in > 0 && out > 0 && groups > 0, layer, ": channels and groups must be positive");
  NL_CHECK(in % groups == 0 && out % groups == 0, layer, ": in_channels ", in, " and out_channels ", out,
           " must be divisible by groups ", groups);
}

}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, std::array<int64_t, 2> k, const Conv2dOptions& opts)
    : in_channels(in), out_channels(out), kernel(k), options(opts) {
  check_channels("Conv2d", in, out, opts.groups);
  NL_CHECK(k[0] > 0 && k[1] > 0, "Conv2d: kernel must be positive");
  NL_CHECK(!opts.same_padding || (opts.stride[0] == 1 && opts.stride[1] == 1),
           "Conv2d: padding \"same\" needs stride 1 (as in PyTorch)");
  weight = empty({out, in / opts.groups, k[0], k[1]});
  if (opts.bias) bias = empty({out});
  init_conv(weight, bias, opts.gen);
  register_parameter("weight", weight);
  if (opts.bias) register_parameter("bias", bias);
}

Tensor Conv2d::forward(const Tensor& x_in) {
  NL_CHECK(x_in.dim() == 4 && x_in.size(1) == in_channels, "Conv2d: expected input [N, ", in_channels,
           ", H, W], got ", x_in.shape().str());
  Conv2dParams p;
  Tensor x = x_in;
  for (int d = 0; d < 2; ++d) {
    p.stride[d] = options.stride[d];
    p.dilation[d] = options.dilation[d];
    p.padding[d] = options.padding[d];
    if (options.same_padding) {
      int64_t total = options.dilation[d] * (kernel[d] - 1);
      p.padding[d] = total / 2;
      x = pad_end(x, 2 + d, total - 2 * (total / 2));
    }
  }
  p.groups = options.groups;
  return conv2d(x, weight, bias, p);
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, const Conv1dOptions& opts)
    : in_channels(in), out_channels(out), kernel(k), options(opts) {
  check_channels("Conv1d", in, out, opts.groups);
  NL_CHECK(k > 0, "Conv1d: kernel must be positive");
  NL_CHECK(!opts.same_padding || opts.stride == 1, "Conv1d: padding \"same\" needs stride 1 (as in PyTorch)");
  weight = empty({out, in / opts.groups, k});
  if (opts.bias) bias = empty({out});
  init_conv(weight, bias, opts.gen);
  register_parameter("weight", weight);
  if (opts.bias) register_parameter("bias", bias);
}

Tensor Conv1d::forward(const Tensor& x_in) {
  NL_CHECK(x_in.dim() == 3 && x_in.size(1) == in_channels, "Conv1d: expected input [N, ", in_channels,
           ", L], got ", x_in.shape().str());
  Conv2dParams p;
  p.stride[1] = options.stride;
  p.dilation[1] = options.dilation;
  p.padding[1] = options.padding;
  p.groups = options.groups;
  Tensor x = x_in.unsqueeze(2);  // [N, C, 1, L]
  if (options.same_padding) {
    int64_t total = options.dilation * (kernel - 1);
    p.padding[1] = total / 2;
    x = pad_end(x, 3, total - 2 * (total / 2));
  }
  return conv2d(x, weight.unsqueeze(2), bias, p).squeeze(2);
}

}  // namespace nl::nn
