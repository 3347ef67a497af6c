// Adam and AdamW: hyper-parameter checks and the shared per-parameter update
// (engine/optim/update_kernels.h); they differ only in how weight decay is applied.
#include "engine/optim/adam.h"

#include "engine/optim/hyper_checks.h"

namespace nl::optim {
namespace {

template <class Options>
ParamGroup make_group(std::vector<Tensor> params, const Options& o) {
  ParamGroup g;
  g.params = std::move(params);
  g.lr = o.lr;
  g.beta1 = o.beta1;
  g.beta2 = o.beta2;
  g.eps = o.eps;
  g.weight_decay = o.weight_decay;
  g.amsgrad = o.amsgrad;
  g.maximize = o.maximize;
  return g;
}

OptimizerSpec adam_spec(const char* name) {
  return {.name = name,
          .hyper_parameters = {"lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"},
          .buffers = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
          .required_buffers = {"exp_avg", "exp_avg_sq"},
          .cycled_momentum = "beta1"};
}

void check_adam(const char* name, const ParamGroup& g, size_t index) {
  detail::check_non_negative(name, "lr", g.lr, index);
  detail::check_non_negative(name, "eps", g.eps, index);
  detail::check_decay_rate(name, "beta1", g.beta1, index);
  detail::check_decay_rate(name, "beta2", g.beta2, index);
  detail::check_non_negative(name, "weight_decay", g.weight_decay, index);
}

void adam_step(const ParamGroup& g, bool decoupled, Tensor& param, const Tensor& grad, ParamState& state,
               UpdateKernel kernel) {
  // Zero moments on the first step, as PyTorch initialises them.
  Tensor& exp_avg = zeros_buffer(state, "exp_avg", param);
  Tensor& exp_avg_sq = zeros_buffer(state, "exp_avg_sq", param);
  Tensor no_max;
  Tensor& max_exp_avg_sq = g.amsgrad ? zeros_buffer(state, "max_exp_avg_sq", param) : no_max;
  AdamHyper h{.lr = g.lr,
              .beta1 = g.beta1,
              .beta2 = g.beta2,
              .eps = g.eps,
              .weight_decay = g.weight_decay,
              .amsgrad = g.amsgrad,
              .decoupled_weight_decay = decoupled,
              .maximize = g.maximize,
              .step = state.step};
  adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, h, kernel);
}

// A whole group: the buffers (zero on a parameter's first step) and step counts gathered,
// one call (one launch per 32 tensors on a GPU), the buffers written back.
void adam_group_step(const ParamGroup& g, bool decoupled, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const std::vector<ParamState*>& states, UpdateKernel kernel) {
  std::vector<Tensor> exp_avgs, exp_avg_sqs, max_exp_avg_sqs;
  std::vector<int64_t> steps;
  for (size_t i = 0; i < params.size(); ++i) {
    exp_avgs.push_back(zeros_buffer(*states[i], "exp_avg", params[i]));
    exp_avg_sqs.push_back(zeros_buffer(*states[i], "exp_avg_sq", params[i]));
    max_exp_avg_sqs.push_back(g.amsgrad ? zeros_buffer(*states[i], "max_exp_avg_sq", params[i]) : Tensor());
    steps.push_back(states[i]->step);
  }
  AdamHyper h{.lr = g.lr,
              .beta1 = g.beta1,
              .beta2 = g.beta2,
              .eps = g.eps,
              .weight_decay = g.weight_decay,
              .amsgrad = g.amsgrad,
              .decoupled_weight_decay = decoupled,
              .maximize = g.maximize,
              .step = 0};  // per parameter: `steps`
  adam_update_group(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, h, kernel);
  for (size_t i = 0; i < params.size(); ++i) {
    states[i]->buffers["exp_avg"] = exp_avgs[i];
    states[i]->buffers["exp_avg_sq"] = exp_avg_sqs[i];
    if (g.amsgrad) states[i]->buffers["max_exp_avg_sq"] = max_exp_avg_sqs[i];
  }
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options) : Optimizer(adam_spec("Adam")) {
  add_group(make_group(std::move(params), options));
}

void Adam::add_param_group(std::vector<Tensor> params, const AdamOptions& options) {
  add_group(make_group(std::move(params), options));
}

void Adam::check_hyper_parameters(const ParamGroup& g, size_t index) const { check_adam("Adam", g, index); }

void Adam::update(const ParamGroup& g, Tensor& param, const Tensor& grad, ParamState& state) {
  adam_step(g, /*decoupled=*/false, param, grad, state, update_kernel());
}

void Adam::update_group(const ParamGroup& g, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                        const std::vector<ParamState*>& states) {
  adam_group_step(g, /*decoupled=*/false, params, grads, states, update_kernel());
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options) : Optimizer(adam_spec("AdamW")) {
  add_group(make_group(std::move(params), options));
}

void AdamW::add_param_group(std::vector<Tensor> params, const AdamWOptions& options) {
  add_group(make_group(std::move(params), options));
}

void AdamW::check_hyper_parameters(const ParamGroup& g, size_t index) const { check_adam("AdamW", g, index); }

void AdamW::update(const ParamGroup& g, Tensor& param, const Tensor& grad, ParamState& state) {
  adam_step(g, /*decoupled=*/true, param, grad, state, update_kernel());
}

void AdamW::update_group(const ParamGroup& g, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         const std::vector<ParamState*>& states) {
  adam_group_step(g, /*decoupled=*/true, params, grads, states, update_kernel());
}

}  // namespace nl::optim
