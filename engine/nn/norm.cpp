// BatchNorm, LayerNorm and GroupNorm layers (see norm.h). BatchNorm and LayerNorm use the
// fused ops; GroupNorm is composed from reshape, mean and var, so its gradient is autograd's.
#include "engine/nn/norm.h"

#include <algorithm>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/norm.h"
#include "engine/ops/reduce.h"

namespace nl::nn {

BatchNorm::BatchNorm(int64_t c, const BatchNormOptions& opts, std::vector<int> ranks)
    : num_features(c), options(opts), ranks_(std::move(ranks)) {
  NL_CHECK(c > 0, "BatchNorm: num_features must be positive, got ", c);
  if (opts.affine) {
    weight = ones({c});
    bias = zeros({c});
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
  if (opts.track_running_stats) {
    running_mean = zeros({c});
    running_var = ones({c});
    num_batches_tracked = zeros({}, {.dtype = DType::Int64});
    register_buffer("running_mean", running_mean);
    register_buffer("running_var", running_var);
    register_buffer("num_batches_tracked", num_batches_tracked);
  }
}

Tensor BatchNorm::forward(const Tensor& x) { return run(x, false); }

Tensor BatchNorm::forward_relu(const Tensor& x) { return run(x, true); }

Tensor BatchNorm::run(const Tensor& x, bool relu) {
  bool rank_ok = std::find(ranks_.begin(), ranks_.end(), x.dim()) != ranks_.end();
  NL_CHECK(rank_ok && x.size(1) == num_features, type_name(), ": expected ", ranks_.size() == 1 ? "[N, C, H, W]" : "[N, C] or [N, C, L]",
           " with C = ", num_features, ", got ", x.shape().str());
  bool tracking = options.track_running_stats;
  double momentum = options.momentum.value_or(0.0);
  if (is_training() && tracking) {
    NoGradGuard no_grad;
    // Counted on the tensor's device: reading it back each step would make the host wait
    // for a GPU in every BatchNorm layer. Only the cumulative average (momentum unset) reads it.
    add_(num_batches_tracked, ones_like(num_batches_tracked));
    if (!options.momentum) momentum = 1.0 / num_batches_tracked.item();
  }
  // Batch statistics in training, and always when no running statistics are kept.
  bool use_batch_stats = is_training() || !tracking;
  Tensor rm = tracking ? running_mean : Tensor();
  Tensor rv = tracking ? running_var : Tensor();
  if (relu) return batch_norm_relu(x, weight, bias, rm, rv, use_batch_stats, momentum, options.eps);
  return batch_norm(x, weight, bias, rm, rv, use_batch_stats, momentum, options.eps);
}

LayerNorm::LayerNorm(std::vector<int64_t> shape, double eps_, bool affine)
    : normalized_shape(std::move(shape)), eps(eps_) {
  NL_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape is empty");
  if (affine) {
    weight = ones(Shape(normalized_shape));
    bias = zeros(Shape(normalized_shape));
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps_, bool affine)
    : num_groups(groups), num_channels(channels), eps(eps_) {
  NL_CHECK(groups > 0 && channels > 0 && channels % groups == 0, "GroupNorm: num_channels ", channels,
           " must be a positive multiple of num_groups ", groups);
  if (affine) {
    weight = ones({channels});
    bias = zeros({channels});
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  NL_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm: expected input [N, ", num_channels, ", *], got ",
           x.shape().str());
  Tensor grouped = x.reshape({x.size(0), num_groups, -1});
  Tensor mu = mean(grouped, {2}, true);
  Tensor variance = var(grouped, {2}, /*correction=*/0, true);  // biased, as PyTorch normalises
  Tensor y = ((grouped - mu) * rsqrt(variance + eps)).reshape(x.shape());
  if (!weight.defined()) return y;
  Shape channel_shape(std::vector<int64_t>(x.dim(), 1));
  channel_shape[1] = num_channels;
  return y * weight.reshape(channel_shape) + bias.reshape(channel_shape);
}

}  // namespace nl::nn
