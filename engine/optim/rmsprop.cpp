// RMSprop: hyper-parameter checks and the per-parameter update (engine/optim/update_kernels.h).
#include "engine/optim/rmsprop.h"

#include "engine/optim/hyper_checks.h"

namespace nl::optim {
namespace {

ParamGroup make_group(std::vector<Tensor> params, const RMSpropOptions& o) {
  ParamGroup g;
  g.params = std::move(params);
  g.lr = o.lr;
  g.alpha = o.alpha;
  g.eps = o.eps;
  g.weight_decay = o.weight_decay;
  g.momentum = o.momentum;
  g.centered = o.centered;
  g.maximize = o.maximize;
  return g;
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : Optimizer({.name = "RMSprop",
                 .hyper_parameters = {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"},
                 .buffers = {"square_avg", "grad_avg", "momentum_buffer"},
                 .required_buffers = {"square_avg"},
                 .cycled_momentum = "momentum"}) {
  add_group(make_group(std::move(params), options));
}

void RMSprop::add_param_group(std::vector<Tensor> params, const RMSpropOptions& options) {
  add_group(make_group(std::move(params), options));
}

void RMSprop::check_hyper_parameters(const ParamGroup& g, size_t index) const {
  detail::check_non_negative("RMSprop", "lr", g.lr, index);
  detail::check_non_negative("RMSprop", "eps", g.eps, index);
  detail::check_non_negative("RMSprop", "momentum", g.momentum, index);
  detail::check_non_negative("RMSprop", "weight_decay", g.weight_decay, index);
  // PyTorch accepts any alpha >= 0, but from 1 up the average never follows the gradient.
  detail::check_decay_rate("RMSprop", "alpha", g.alpha, index);
}

namespace {
RmspropHyper rmsprop_hyper(const ParamGroup& g) {
  return {.lr = g.lr,
          .alpha = g.alpha,
          .eps = g.eps,
          .weight_decay = g.weight_decay,
          .momentum = g.momentum,
          .centered = g.centered,
          .maximize = g.maximize};
}
}  // namespace

void RMSprop::update(const ParamGroup& g, Tensor& param, const Tensor& grad, ParamState& state) {
  // Buffers start at zero (PyTorch creates them on the first step); grad_avg and the
  // momentum buffer appear when centring or momentum is first switched on.
  Tensor none;
  Tensor& square_avg = zeros_buffer(state, "square_avg", param);
  Tensor& grad_avg = g.centered ? zeros_buffer(state, "grad_avg", param) : none;
  Tensor& momentum_buffer = g.momentum > 0 ? zeros_buffer(state, "momentum_buffer", param) : none;
  rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, rmsprop_hyper(g), update_kernel());
}

void RMSprop::update_group(const ParamGroup& g, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                           const std::vector<ParamState*>& states) {
  std::vector<Tensor> square_avgs, grad_avgs, momentum_buffers;
  for (size_t i = 0; i < params.size(); ++i) {
    square_avgs.push_back(zeros_buffer(*states[i], "square_avg", params[i]));
    grad_avgs.push_back(g.centered ? zeros_buffer(*states[i], "grad_avg", params[i]) : Tensor());
    momentum_buffers.push_back(g.momentum > 0 ? zeros_buffer(*states[i], "momentum_buffer", params[i]) : Tensor());
  }
  rmsprop_update_group(params, grads, square_avgs, grad_avgs, momentum_buffers, rmsprop_hyper(g), update_kernel());
  for (size_t i = 0; i < params.size(); ++i) {
    states[i]->buffers["square_avg"] = square_avgs[i];
    if (g.centered) states[i]->buffers["grad_avg"] = grad_avgs[i];
    if (g.momentum > 0) states[i]->buffers["momentum_buffer"] = momentum_buffers[i];
  }
}

}  // namespace nl::optim
