// ConvTranspose2d as an ordinary conv2d (see conv_transpose.h): the input is spread out
// with stride - 1 zeros between elements, padded by d (k - 1) - p on each side (cropped
// where that is negative), and convolved at stride 1 with the kernel flipped and its
// in/out channel axes swapped per group. Autograd differentiates the composition.
#include "engine/nn/conv_transpose.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/conv.h"
#include "engine/ops/indexing.h"
#include "engine/ops/movement.h"

namespace nl::nn {
namespace {

Tensor zeros_shaped(const Tensor& x, int64_t dim, int64_t n) {
  Shape shape = x.shape();
  shape[dim] = n;
  return zeros(shape, {.dtype = x.dtype(), .device = x.device()});
}

// Inserts `stride - 1` zeros between neighbouring elements along `dim`.
Tensor spread(const Tensor& x, int64_t dim, int64_t stride) {
  if (stride == 1) return x;
  int64_t n = x.size(dim);
  Tensor cells = x.unsqueeze(dim + 1);  // each element followed by its own zero gap
  Tensor gapped = cat({cells, zeros_shaped(cells, dim + 1, stride - 1)}, dim + 1);
  Shape merged = x.shape();
  merged[dim] = n * stride;
  return gapped.reshape(merged).narrow(dim, 0, (n - 1) * stride + 1);
}

// Adds `before`/`after` zeros along `dim`; a negative amount crops instead.
Tensor pad_or_crop(const Tensor& x, int64_t dim, int64_t before, int64_t after) {
  Tensor y = x;
  if (before < 0) y = y.narrow(dim, -before, y.size(dim) + before);
  if (after < 0) y = y.narrow(dim, 0, y.size(dim) + after);
  std::vector<Tensor> parts;
  if (before > 0) parts.push_back(zeros_shaped(y, dim, before));
  parts.push_back(y);
  if (after > 0) parts.push_back(zeros_shaped(y, dim, after));
  return parts.size() == 1 ? y : cat(parts, dim);
}

Tensor reversed(const Tensor& x, int64_t dim) {
  std::vector<int64_t> order(x.size(dim));
  for (size_t i = 0; i < order.size(); ++i) order[i] = (int64_t)(order.size() - 1 - i);
  return index_select(x, dim, tensor(order, {(int64_t)order.size()}).to(x.device()));
}

}  // namespace

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, std::array<int64_t, 2> k, const ConvTranspose2dOptions& opts)
    : in_channels(in), out_channels(out), kernel(k), options(opts) {
  NL_CHECK(in > 0 && out > 0 && opts.groups > 0 && in % opts.groups == 0 && out % opts.groups == 0,
           "ConvTranspose2d: in_channels ", in, " and out_channels ", out, " must be positive multiples of groups ",
           opts.groups);
  NL_CHECK(k[0] > 0 && k[1] > 0, "ConvTranspose2d: kernel must be positive");
  for (int d = 0; d < 2; ++d)
    NL_CHECK(opts.output_padding[d] < std::max(opts.stride[d], opts.dilation[d]),
             "ConvTranspose2d: output_padding must be smaller than stride or dilation (as in PyTorch)");
  weight = empty({in, out / opts.groups, k[0], k[1]});
  // PyTorch computes the fans from this weight as it is laid out, so fan_in = out/groups * kH * kW.
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, "leaky_relu", opts.gen);
  register_parameter("weight", weight);
  if (opts.bias) {
    double bound = 1.0 / std::sqrt((double)init::calculate_fans(weight).fan_in);
    bias = empty({out});
    init::uniform_(bias, -bound, bound, opts.gen);
    register_parameter("bias", bias);
  }
}

Tensor ConvTranspose2d::forward(const Tensor& x_in) {
  NL_CHECK(x_in.dim() == 4 && x_in.size(1) == in_channels, "ConvTranspose2d: expected input [N, ", in_channels,
           ", H, W], got ", x_in.shape().str());
  Tensor x = x_in;
  for (int d = 0; d < 2; ++d) {
    int64_t edge = options.dilation[d] * (kernel[d] - 1) - options.padding[d];
    x = pad_or_crop(spread(x, 2 + d, options.stride[d]), 2 + d, edge, edge + options.output_padding[d]);
  }
  int64_t g = options.groups;
  // [in, out/g, kH, kW] → [g, in/g, out/g, kH, kW] → [out, in/g, kH, kW], flipped in space.
  Tensor w = weight.reshape({g, in_channels / g, out_channels / g, kernel[0], kernel[1]})
                 .transpose(1, 2)
                 .reshape({out_channels, in_channels / g, kernel[0], kernel[1]});
  w = reversed(reversed(w, 2), 3);
  Conv2dParams p;
  p.dilation[0] = options.dilation[0];
  p.dilation[1] = options.dilation[1];
  p.groups = g;
  return conv2d(x, w, bias, p);
}

}  // namespace nl::nn
