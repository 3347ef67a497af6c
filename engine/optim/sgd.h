// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight
// decay, as torch.optim.SGD (PyTorch 1.13):
//   d = grad + weight_decay · param
//   buf = d on the first step, then momentum · buf + (1 − dampening) · d
//   d = nesterov ? d + momentum · buf : buf            (when momentum ≠ 0)
//   param −= lr · d
//
//   nl::optim::SGD opt(params, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
#pragma once
#include <vector>

#include "engine/optim/optimizer.h"

namespace nl::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening = 0
  bool maximize = false;
};

class SGD final : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  // Adds parameters with their own hyper-parameters (see Note [Parameter groups]).
  void add_param_group(std::vector<Tensor> params, const SGDOptions& options);

 protected:
  void check_hyper_parameters(const ParamGroup& group, size_t index) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_group(const ParamGroup& group, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<ParamState*>& states) override;
};

}  // namespace nl::optim
