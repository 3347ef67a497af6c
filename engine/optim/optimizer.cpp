// Optimizer base: group checks, the step loop, zero_grad, and state save/restore.
#include "engine/optim/optimizer.h"

#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"

namespace nl::optim {
namespace {

// ParamGroup's hyper-parameters by name, so state_dict can save and restore exactly the
// fields an optimiser's spec lists. Flags are stored as 0/1.
struct FieldRef {
  const char* name;
  double ParamGroup::*number = nullptr;
  bool ParamGroup::*flag = nullptr;
};

const FieldRef kFields[] = {
    {"lr", &ParamGroup::lr},
    {"weight_decay", &ParamGroup::weight_decay},
    {"momentum", &ParamGroup::momentum},
    {"dampening", &ParamGroup::dampening},
    {"nesterov", nullptr, &ParamGroup::nesterov},
    {"beta1", &ParamGroup::beta1},
    {"beta2", &ParamGroup::beta2},
    {"eps", &ParamGroup::eps},
    {"amsgrad", nullptr, &ParamGroup::amsgrad},
    {"alpha", &ParamGroup::alpha},
    {"centered", nullptr, &ParamGroup::centered},
    {"maximize", nullptr, &ParamGroup::maximize},
};

const FieldRef& field(const std::string& name) {
  for (const FieldRef& f : kFields)
    if (name == f.name) return f;
  fail("optimizer: ParamGroup has no hyper-parameter '", name, "'");
}

double get_field(const ParamGroup& g, const FieldRef& f) { return f.number ? g.*f.number : (g.*f.flag ? 1.0 : 0.0); }

void set_field(ParamGroup& g, const FieldRef& f, double v) {
  if (f.number) g.*f.number = v;
  else g.*f.flag = v != 0;
}

// Splits "state.12.exp_avg" into (12, "exp_avg"); false when `key` has another form.
bool parse_indexed_key(const std::string& key, const std::string& prefix, size_t* index, std::string* rest) {
  if (key.compare(0, prefix.size(), prefix) != 0) return false;
  size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return false;
  std::string digits = key.substr(prefix.size(), dot - prefix.size());
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  if (digits.size() > 9) return false;
  *index = std::strtoul(digits.c_str(), nullptr, 10);
  *rest = key.substr(dot + 1);
  return true;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  for (const auto& n : names)
    if (n == name) return true;
  return false;
}

}  // namespace

size_t Optimizer::num_params() const {
  size_t n = 0;
  for (const auto& g : groups_) n += g.params.size();
  return n;
}

void Optimizer::check_groups(const std::vector<ParamGroup>& groups) const {
  std::unordered_set<const TensorImpl*> seen;
  size_t index = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    NL_CHECK(!g.params.empty(), name(), ": param group ", gi, " has no parameters");
    check_hyper_parameters(g, gi);
    for (const Tensor& p : g.params) {
      NL_CHECK(p.defined(), name(), ": parameter ", index, " (group ", gi, ") is an undefined tensor");
      NL_CHECK(p.is_leaf(), name(), ": parameter ", index, " (group ", gi,
               ") is not a leaf tensor (it was computed from other tensors); optimise the leaf it came from");
      NL_CHECK(p.dtype() == DType::Float32, name(), ": parameter ", index, " (group ", gi, ") is ",
               dtype_name(p.dtype()), "; optimisers update float32 parameters");
      NL_CHECK(p.is_contiguous(), name(), ": parameter ", index, " (group ", gi,
               ") is not contiguous (a view); optimisers update whole contiguous parameters");
      NL_CHECK(seen.insert(p.impl()).second, name(), ": parameter ", index, " (group ", gi,
               ") appears more than once in the parameter groups");
      ++index;
    }
  }
}

void Optimizer::add_group(ParamGroup group) {
  std::vector<ParamGroup> groups = groups_;
  groups.push_back(std::move(group));
  check_groups(groups);
  groups_ = std::move(groups);
}

void Optimizer::step() {
  NoGradGuard no_grad;
  check_groups(groups_);
  struct Pending {
    size_t group;
    Tensor param;
    Tensor grad;
  };
  std::vector<Pending> pending;
  size_t index = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    for (const Tensor& p : groups_[gi].params) {
      Tensor grad = p.grad();
      if (grad.defined()) {
        NL_CHECK(grad.shape() == p.shape(), name(), ": gradient of parameter ", index, " has shape ",
                 grad.shape().str(), " but the parameter has ", p.shape().str());
        NL_CHECK(grad.device() == p.device(), name(), ": gradient of parameter ", index, " is on ",
                 grad.device().str(), " but the parameter is on ", p.device().str());
        NL_CHECK(grad.dtype() == p.dtype(), name(), ": gradient of parameter ", index, " is ",
                 dtype_name(grad.dtype()), " but the parameter is ", dtype_name(p.dtype()));
        // The fused loops assume the gradient and the parameter do not overlap.
        NL_CHECK(grad.storage() != p.storage(), name(), ": gradient of parameter ", index,
                 " shares memory with the parameter");
        pending.push_back({gi, p, grad.contiguous()});
      }
      ++index;
    }
  }
  // One call per group (pending is in group order): a GPU updates a group in one launch.
  for (size_t first = 0; first < pending.size();) {
    const size_t group = pending[first].group;
    std::vector<Tensor> params, grads;
    std::vector<ParamState*> states;
    for (; first < pending.size() && pending[first].group == group; ++first) {
      ParamState& state = state_[pending[first].param.impl_ptr()];  // node-based: the address stays valid
      ++state.step;
      params.push_back(pending[first].param);
      grads.push_back(pending[first].grad);
      states.push_back(&state);
    }
    update_group(groups_[group], params, grads, states);
  }
}

void Optimizer::update_group(const ParamGroup& group, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             const std::vector<ParamState*>& states) {
  for (size_t i = 0; i < params.size(); ++i) update(group, params[i], grads[i], *states[i]);
}

std::string Optimizer::replay_blocker() const {
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      auto it = state_.find(p.impl_ptr());
      if (it == state_.end() || it->second.step == 0) return std::string(name()) + " has not made its first step yet";
    }
  return {};
}

void Optimizer::count_replayed_step() {
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params)
      if (p.grad().defined()) ++state_[p.impl_ptr()].step;
}

std::vector<int64_t> Optimizer::step_counts() const {
  std::vector<int64_t> out;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      auto it = state_.find(p.impl_ptr());
      out.push_back(it == state_.end() ? 0 : it->second.step);
    }
  return out;
}

void Optimizer::set_step_counts(const std::vector<int64_t>& counts) {
  NL_CHECK(counts.size() == num_params(), name(), ": ", counts.size(), " step counts for ", num_params(),
           " parameters");
  size_t i = 0;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      auto it = state_.find(p.impl_ptr());
      if (it != state_.end()) it->second.step = counts[i];
      ++i;
    }
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& g : groups_) {
    for (Tensor& p : g.params) {
      if (set_to_none) {
        p.zero_grad();
      } else if (p.grad().defined()) {
        Tensor grad = p.grad();
        zero_(grad);
      }
    }
  }
}

double Optimizer::lr(size_t group) const {
  NL_CHECK(group < groups_.size(), name(), ": param group ", group, " does not exist (", groups_.size(), " groups)");
  return groups_[group].lr;
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

void Optimizer::set_lr(size_t group, double lr) {
  NL_CHECK(group < groups_.size(), name(), ": param group ", group, " does not exist (", groups_.size(), " groups)");
  ParamGroup changed = groups_[group];
  changed.lr = lr;
  check_hyper_parameters(changed, group);
  groups_[group].lr = lr;
}

double Optimizer::cycled_momentum(size_t group) const {
  NL_CHECK(group < groups_.size(), name(), ": param group ", group, " does not exist (", groups_.size(), " groups)");
  return get_field(groups_[group], field(spec_.cycled_momentum));
}

void Optimizer::set_cycled_momentum(size_t group, double value) {
  NL_CHECK(group < groups_.size(), name(), ": param group ", group, " does not exist (", groups_.size(), " groups)");
  ParamGroup changed = groups_[group];
  set_field(changed, field(spec_.cycled_momentum), value);
  check_hyper_parameters(changed, group);
  set_field(groups_[group], field(spec_.cycled_momentum), value);
}

const ParamState* Optimizer::state_of(const Tensor& param) const {
  auto it = state_.find(param.impl_ptr());
  return it == state_.end() ? nullptr : &it->second;
}

Tensor& zeros_buffer(ParamState& state, const std::string& name, const Tensor& param) {
  Tensor& b = state.buffers[name];
  if (!b.defined()) b = zeros(param.shape(), {.dtype = param.dtype(), .device = param.device()});
  return b;
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  size_t index = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    std::string group_prefix = "param_groups." + std::to_string(gi) + ".";
    out.scalars[group_prefix + "params"] = (double)g.params.size();
    for (const std::string& h : spec_.hyper_parameters) out.scalars[group_prefix + h] = get_field(g, field(h));
    for (const Tensor& p : g.params) {
      if (const ParamState* s = state_of(p)) {
        std::string prefix = "state." + std::to_string(index) + ".";
        out.scalars[prefix + "step"] = (double)s->step;
        for (const auto& [buffer, t] : s->buffers) out.tensors[prefix + buffer] = t.clone();
      }
      ++index;
    }
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& in) {
  // Parameters in order, for lookups by state index.
  std::vector<Tensor> params;
  for (const auto& g : groups_) params.insert(params.end(), g.params.begin(), g.params.end());

  // Hyper-parameters: every group's listed fields must be present, and nothing else.
  std::vector<ParamGroup> groups = groups_;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    std::string group_prefix = "param_groups." + std::to_string(gi) + ".";
    double count = in.scalar(group_prefix + "params", name());
    NL_CHECK(count == (double)groups[gi].params.size(), name(), ": state_dict has ", count,
             " parameters in param group ", gi, " but the optimiser has ", groups[gi].params.size());
    for (const std::string& h : spec_.hyper_parameters) {
      double v = in.scalar(group_prefix + h, name());
      const FieldRef& f = field(h);
      NL_CHECK(f.number || v == 0 || v == 1, name(), ": state_dict entry '", group_prefix, h,
               "' is a flag but holds ", v);
      set_field(groups[gi], f, v);
    }
  }

  // State: steps and buffers, keyed by parameter index.
  std::map<size_t, ParamState> loaded;
  for (const auto& [key, v] : in.scalars) {
    size_t index;
    std::string rest;
    if (parse_indexed_key(key, "param_groups.", &index, &rest)) {
      NL_CHECK(index < groups.size(), name(), ": state_dict entry '", key, "' is for param group ", index,
               " but the optimiser has ", groups.size(), " groups");
      NL_CHECK(rest == "params" || contains(spec_.hyper_parameters, rest), name(), ": state_dict entry '", key,
               "' is not a hyper-parameter of ", name());
      continue;
    }
    NL_CHECK(parse_indexed_key(key, "state.", &index, &rest) && rest == "step", name(),
             ": unexpected state_dict scalar '", key, "'");
    NL_CHECK(index < params.size(), name(), ": state_dict entry '", key, "' is for parameter ", index,
             " but the optimiser has ", params.size());
    NL_CHECK(v >= 1 && v == std::floor(v) && v <= 9007199254740992.0, name(), ": state_dict entry '", key,
             "' must be a positive whole step count, got ", v);
    loaded[index].step = (int64_t)v;
  }
  for (const auto& [key, t] : in.tensors) {
    size_t index;
    std::string buffer;
    NL_CHECK(parse_indexed_key(key, "state.", &index, &buffer), name(), ": unexpected state_dict tensor '", key, "'");
    NL_CHECK(contains(spec_.buffers, buffer), name(), ": state_dict entry '", key, "' is not state that ", name(),
             " keeps (is the state_dict from another optimiser?)");
    NL_CHECK(index < params.size(), name(), ": state_dict entry '", key, "' is for parameter ", index,
             " but the optimiser has ", params.size());
    const Tensor& p = params[index];
    NL_CHECK(t.defined() && t.shape() == p.shape(), name(), ": state_dict entry '", key, "' has shape ",
             t.defined() ? t.shape().str() : std::string("(undefined)"), " but parameter ", index, " has ",
             p.shape().str());
    NL_CHECK(t.dtype() == p.dtype(), name(), ": state_dict entry '", key, "' is ", dtype_name(t.dtype()),
             " but parameter ", index, " is ", dtype_name(p.dtype()));
    NL_CHECK(loaded.count(index), name(), ": state_dict has '", key, "' but no 'state.", index, ".step'");
    // Own copies on the parameter's device, so the caller's tensors are never updated.
    loaded[index].buffers[buffer] = t.device() == p.device() ? t.clone() : t.to(p.device());
  }
  for (const auto& [index, s] : loaded)
    for (const std::string& b : spec_.required_buffers)
      NL_CHECK(s.buffers.count(b), name(), ": state_dict has 'state.", index, ".step' but no 'state.", index, ".",
               b, "'");
  check_groups(groups);

  groups_ = std::move(groups);
  state_.clear();
  for (auto& [index, s] : loaded) state_[params[index].impl_ptr()] = std::move(s);
}

}  // namespace nl::optim
