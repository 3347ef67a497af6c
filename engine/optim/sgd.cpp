// SGD: hyper-parameter checks and the per-parameter update (engine/optim/update_kernels.h).
#include "engine/optim/sgd.h"

#include "engine/optim/hyper_checks.h"

namespace nl::optim {
namespace {

ParamGroup make_group(std::vector<Tensor> params, const SGDOptions& o) {
  ParamGroup g;
  g.params = std::move(params);
  g.lr = o.lr;
  g.momentum = o.momentum;
  g.dampening = o.dampening;
  g.weight_decay = o.weight_decay;
  g.nesterov = o.nesterov;
  g.maximize = o.maximize;
  return g;
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : Optimizer({.name = "SGD",
                 .hyper_parameters = {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"},
                 .buffers = {"momentum_buffer"},
                 .required_buffers = {},
                 .cycled_momentum = "momentum"}) {
  add_group(make_group(std::move(params), options));
}

void SGD::add_param_group(std::vector<Tensor> params, const SGDOptions& options) {
  add_group(make_group(std::move(params), options));
}

void SGD::check_hyper_parameters(const ParamGroup& g, size_t index) const {
  detail::check_non_negative("SGD", "lr", g.lr, index);
  detail::check_non_negative("SGD", "momentum", g.momentum, index);
  detail::check_non_negative("SGD", "dampening", g.dampening, index);
  detail::check_non_negative("SGD", "weight_decay", g.weight_decay, index);
  NL_CHECK(!g.nesterov || (g.momentum > 0 && g.dampening == 0),
           "SGD: nesterov momentum needs momentum > 0 and dampening = 0, got momentum ", g.momentum,
           " and dampening ", g.dampening, " (param group ", index, ")");
}

namespace {
SgdHyper sgd_hyper(const ParamGroup& g) {
  return {.lr = g.lr,
          .weight_decay = g.weight_decay,
          .momentum = g.momentum,
          .dampening = g.dampening,
          .nesterov = g.nesterov,
          .maximize = g.maximize};
}

Tensor momentum_buffer_of(const ParamGroup& g, const ParamState& state) {
  if (g.momentum == 0) return {};
  auto it = state.buffers.find("momentum_buffer");
  return it != state.buffers.end() ? it->second : Tensor();
}
}  // namespace

void SGD::update(const ParamGroup& g, Tensor& param, const Tensor& grad, ParamState& state) {
  Tensor buffer = momentum_buffer_of(g, state);
  sgd_update(param, grad, buffer, sgd_hyper(g), update_kernel());
  if (buffer.defined()) state.buffers["momentum_buffer"] = buffer;
}

void SGD::update_group(const ParamGroup& g, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                       const std::vector<ParamState*>& states) {
  std::vector<Tensor> buffers;
  for (const ParamState* s : states) buffers.push_back(momentum_buffer_of(g, *s));
  sgd_update_group(params, grads, buffers, sgd_hyper(g), update_kernel());
  for (size_t i = 0; i < states.size(); ++i)
    if (buffers[i].defined()) states[i]->buffers["momentum_buffer"] = buffers[i];
}

}  // namespace nl::optim
