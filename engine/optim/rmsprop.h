// RMSprop with optional centring, momentum and L2 weight decay, as torch.optim.RMSprop
// (PyTorch 1.13):
//   g = grad + weight_decay · param
//   s = alpha · s + (1 − alpha) · g²
//   avg = sqrt(s − ḡ²) with ḡ = alpha · ḡ + (1 − alpha) · g when centered, else sqrt(s); avg += eps
//   momentum > 0: buf = momentum · buf + g / avg; param −= lr · buf
//   otherwise:    param −= lr · g / avg
//
//   nl::optim::RMSprop opt(params, {.lr = 1e-3, .momentum = 0.9, .centered = true});
#pragma once
#include <vector>

#include "engine/optim/optimizer.h"

namespace nl::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
};

class RMSprop final : public Optimizer {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  void add_param_group(std::vector<Tensor> params, const RMSpropOptions& options);

 protected:
  void check_hyper_parameters(const ParamGroup& group, size_t index) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_group(const ParamGroup& group, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<ParamState*>& states) override;
};

}  // namespace nl::optim
