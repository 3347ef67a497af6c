// Normalisation layers with torch.nn's parameter and buffer names: BatchNorm1d/2d
// (weight, bias, running_mean, running_var, num_batches_tracked), LayerNorm, GroupNorm.
#pragma once
#include <optional>
#include <vector>

#include "engine/nn/module.h"

namespace nl::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the new batch statistic in the running average; nullopt gives the cumulative
  // average 1 / num_batches_tracked, as momentum=None in PyTorch.
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;  // without it, batch statistics are used in eval too
};

// Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept.
class BatchNorm : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) in one fused op (batch_norm_relu); Sequential uses it for BatchNorm → ReLU.
  Tensor forward_relu(const Tensor& x);

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;                 // [C], undefined unless affine
  Tensor running_mean, running_var;    // [C], undefined unless track_running_stats
  Tensor num_batches_tracked;          // int64 scalar, undefined unless track_running_stats

 protected:
  BatchNorm(int64_t num_features, const BatchNormOptions& opts, std::vector<int> ranks);

 private:
  Tensor run(const Tensor& x, bool relu);
  std::vector<int> ranks_;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, const BatchNormOptions& opts = {}) : BatchNorm(num_features, opts, {2, 3}) {}
  std::string type_name() const override { return "BatchNorm1d"; }  // [N, C] or [N, C, L]
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, const BatchNormOptions& opts = {}) : BatchNorm(num_features, opts, {4}) {}
  std::string type_name() const override { return "BatchNorm2d"; }  // [N, C, H, W]
};

class LayerNorm : public Module {
 public:
  // Normalises over the trailing dims `normalized_shape`; weight (ones) and bias (zeros) of
  // that shape when elementwise_affine.
  explicit LayerNorm(std::vector<int64_t> normalized_shape, double eps = 1e-5, bool elementwise_affine = true);

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }

  std::vector<int64_t> normalized_shape;
  double eps;
  Tensor weight, bias;
};

class GroupNorm : public Module {
 public:
  // x [N, C, *]: channels split into num_groups groups, each normalised over its channels
  // and all positions; then a per-channel affine (weight ones, bias zeros).
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }

  int64_t num_groups, num_channels;
  double eps;
  Tensor weight, bias;  // [C]
};

}  // namespace nl::nn
