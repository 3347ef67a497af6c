// Adam and AdamW: hyper-parameter checks and the shared per-parameter update
// (engine/optim/update_kernels.h); they differ only in how weight decay is applied.
#include "engine/optim/adam.h"

#include "engine/autograd/node.h"
#include "engine/backends/graph_capture.h"

#include "engine/ops/elementwise.h"
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

AdamHyper adam_hyper(const ParamGroup& g, bool decoupled, int64_t step) {
  return {.lr = g.lr,
          .beta1 = g.beta1,
          .beta2 = g.beta2,
          .eps = g.eps,
          .weight_decay = g.weight_decay,
          .amsgrad = g.amsgrad,
          .decoupled_weight_decay = decoupled,
          .maximize = g.maximize,
          .step = step};
}

void adam_step(const ParamGroup& g, bool decoupled, Tensor& param, const Tensor& grad, ParamState& state,
               UpdateKernel kernel) {
  // Zero moments on the first step, as PyTorch initialises them.
  Tensor& exp_avg = zeros_buffer(state, "exp_avg", param);
  Tensor& exp_avg_sq = zeros_buffer(state, "exp_avg_sq", param);
  Tensor no_max;
  Tensor& max_exp_avg_sq = g.amsgrad ? zeros_buffer(state, "max_exp_avg_sq", param) : no_max;
  adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, adam_hyper(g, decoupled, state.step), kernel);
}

// A whole group: the buffers (zero on a parameter's first step) and step counts gathered,
// one call (one launch per 32 tensors on a GPU), the buffers written back.
void adam_group_step(const ParamGroup& g, bool decoupled, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const std::vector<ParamState*>& states, UpdateKernel kernel, Tensor* device_steps) {
  std::vector<Tensor> exp_avgs, exp_avg_sqs, max_exp_avg_sqs;
  std::vector<int64_t> steps;
  for (size_t i = 0; i < params.size(); ++i) {
    exp_avgs.push_back(zeros_buffer(*states[i], "exp_avg", params[i]));
    exp_avg_sqs.push_back(zeros_buffer(*states[i], "exp_avg_sq", params[i]));
    max_exp_avg_sqs.push_back(g.amsgrad ? zeros_buffer(*states[i], "max_exp_avg_sq", params[i]) : Tensor());
    steps.push_back(states[i]->step);
  }
  const AdamHyper h = adam_hyper(g, decoupled, 0);  // the steps are per parameter: `steps`
  // While a step is captured, the counts come from (and advance on) the device.
  if (device_steps && device_steps->defined() && !params.empty() && is_capturing(params[0].device())) {
    // The counts are one per parameter of the group, in order: all must be updated.
    NL_CHECK(params.size() == g.params.size(), decoupled ? "AdamW" : "Adam", ": a captured step needs a gradient for ",
             "every parameter of the group (", params.size(), " of ", g.params.size(), " have one)");
    adam_update_group_device_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *device_steps, h);
  }
  else
    adam_update_group(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, h, kernel);
  for (size_t i = 0; i < params.size(); ++i) {
    states[i]->buffers["exp_avg"] = exp_avgs[i];
    states[i]->buffers["exp_avg_sq"] = exp_avg_sqs[i];
    if (g.amsgrad) states[i]->buffers["max_exp_avg_sq"] = max_exp_avg_sqs[i];
  }
}

// The group's device step counts, or null when none were prepared.
Tensor* device_steps_of(const Optimizer& o, std::map<size_t, Tensor>& steps, const ParamGroup& g) {
  for (size_t i = 0; i < o.param_groups().size(); ++i)
    if (&o.param_groups()[i] == &g) {
      auto it = steps.find(i);
      return it == steps.end() ? nullptr : &it->second;
    }
  return nullptr;
}

std::string adam_replay_blocker(const Optimizer& o, const std::string& base) {
  if (!base.empty()) return base;
  for (const ParamGroup& g : o.param_groups())
    for (const Tensor& p : g.params)
      if (!p.device().is_cuda() || p.device() != o.param_groups()[0].params[0].device())
        return std::string(o.name()) + " replays its bias correction only with every parameter on one GPU";
  return {};
}

// Each group's step counts (as they stand before the next step) on the parameters' device.
// Written into the existing tensors when there are some: a live graph reads their address.
void prepare_device_steps(const Optimizer& o, std::map<size_t, Tensor>& steps) {
  for (size_t gi = 0; gi < o.param_groups().size(); ++gi) {
    const ParamGroup& g = o.param_groups()[gi];
    if (g.params.empty()) continue;
    std::vector<int64_t> counts;
    for (const Tensor& p : g.params) {
      const ParamState* st = o.state_of(p);
      counts.push_back(st ? st->step : 0);
    }
    Tensor host = tensor(counts, {static_cast<int64_t>(counts.size())});
    auto it = steps.find(gi);
    if (it != steps.end() && it->second.numel() == host.numel() && it->second.device() == g.params[0].device()) {
      NoGradGuard ng;
      copy_(it->second, host);  // pageable: ordered after the replays already queued
    } else {
      steps[gi] = host.to(g.params[0].device());
    }
  }
}

}  // namespace

std::string Adam::replay_blocker() const { return adam_replay_blocker(*this, Optimizer::replay_blocker()); }
std::string AdamW::replay_blocker() const { return adam_replay_blocker(*this, Optimizer::replay_blocker()); }
void Adam::prepare_replay() { prepare_device_steps(*this, device_steps_); }
void AdamW::prepare_replay() { prepare_device_steps(*this, device_steps_); }

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
  adam_group_step(g, /*decoupled=*/false, params, grads, states, update_kernel(), device_steps_of(*this, device_steps_, g));
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
  adam_group_step(g, /*decoupled=*/true, params, grads, states, update_kernel(), device_steps_of(*this, device_steps_, g));
}

}  // namespace nl::optim
