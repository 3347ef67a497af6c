// Module bookkeeping: registration, recursive traversal with dotted names, state_dict
// load/save, mode switching and device moves (see module.h).
#include "engine/nn/module.h"

#include "engine/nn/activation.h"

#include "engine/nn/norm.h"

#include <set>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/ops/elementwise.h"

namespace nl::nn {

Tensor Module::forward(const Tensor&) { fail(type_name(), ": takes several inputs; call forward(std::vector<Tensor>)"); }

Tensor Module::forward(const std::vector<Tensor>& inputs) {
  NL_CHECK(inputs.size() == 1, type_name(), ": takes one input, got ", inputs.size());
  return forward(inputs[0]);
}

void Module::check_new_name(const std::string& name) const {
  NL_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": name '", name,
           "' must be non-empty and contain no '.' (dots separate levels of the state_dict key)");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  NL_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name(), ": name '", name,
           "' is already registered");
}

Tensor& Module::register_parameter(const std::string& name, Tensor& t) {
  check_new_name(name);
  NL_CHECK(t.defined(), type_name(), ": parameter '", name, "' is undefined");
  NL_CHECK(t.is_leaf(), type_name(), ": parameter '", name, "' must be a leaf tensor");
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& t) {
  check_new_name(name);
  NL_CHECK(t.defined(), type_name(), ": buffer '", name, "' is undefined");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  NL_CHECK(m != nullptr, type_name(), ": child module '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  fail(type_name(), ": no child module named '", name, "'");
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::set<const Module*> seen;
  std::function<void(const Module&, const std::string&)> visit = [&](const Module& m, const std::string& prefix) {
    for (const auto& [name, c] : m.children_) {
      if (!seen.insert(c.get()).second) continue;
      out.emplace_back(prefix + name, c);
      visit(*c, prefix + name + ".");
    }
  };
  visit(*this, "");
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [name, m] : children_) m->apply(fn);
  fn(*this);
}

void Module::collect(const std::string& prefix, bool params,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : params ? params_ : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, m] : children_) m->collect(prefix + name + ".", params, out);
}

// A tensor reachable under several names (a module used twice, tied weights) is listed once,
// under its first name, as PyTorch's named_parameters does, so an optimiser updates it once.
static std::vector<std::pair<std::string, Tensor>> first_occurrences(std::vector<std::pair<std::string, Tensor>> all) {
  std::set<const TensorImpl*> seen;
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) out.push_back(std::move(entry));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, out);
  return first_occurrences(std::move(out));
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, out);
  return first_occurrences(std::move(out));
}

std::vector<Tensor> Module::buffers() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers()) out.push_back(t);
  return out;
}

// Every name, shared tensors included (as torch's state_dict), parameters before buffers.
std::vector<std::pair<std::string, Tensor>> Module::all_named_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, out);
  collect("", false, out);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : all_named_tensors()) out[name] = t.detach();
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  auto targets = all_named_tensors();
  std::set<std::string> own;
  std::vector<std::string> missing;
  for (const auto& [name, t] : targets) {
    own.insert(name);
    auto found = state.find(name);
    if (found == state.end()) {
      missing.push_back(name);
      continue;
    }
    NL_CHECK(found->second.defined(), type_name(), ".load_state_dict: '", name, "' is undefined");
    NL_CHECK(found->second.shape() == t.shape(), type_name(), ".load_state_dict: shape mismatch for '", name,
             "': checkpoint has ", found->second.shape().str(), ", model has ", t.shape().str());
  }
  if (strict) {
    NL_CHECK(missing.empty(), type_name(), ".load_state_dict: missing key '", missing.front(), "'",
             missing.size() > 1 ? " (and " + std::to_string(missing.size() - 1) + " more)" : std::string());
    for (const auto& [name, t] : state)
      NL_CHECK(own.count(name), type_name(), ".load_state_dict: unexpected key '", name, "'");
  }
  NoGradGuard no_grad;
  for (auto& [name, t] : targets) {
    auto found = state.find(name);
    if (found == state.end()) continue;
    Tensor dst = t;
    copy_(dst, found->second.to(t.dtype()));
  }
}

void Module::save(const std::string& path) const { save_safetensors(path, state_dict(), {{"format", "pt"}}); }

void Module::load(const std::string& path, bool strict) { load_state_dict(load_safetensors(path), strict); }

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, m] : children_) m->train(on);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  auto move = [&](const Tensor& t) {
    if (t.device() == device) return;
    Tensor moved = t.detach().to(device).contiguous();
    TensorImpl* impl = t.impl();
    impl->storage = moved.storage();
    impl->strides = moved.strides();
    impl->offset = moved.offset();
    impl->grad.reset();  // a gradient on the old device would no longer match
  };
  for (auto& [name, t] : named_parameters()) move(t);
  for (auto& [name, t] : named_buffers()) move(t);
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) {
    Tensor p = t;
    p.zero_grad();
  }
}

Sequential::Sequential(std::vector<ModulePtr> layers) {
  for (auto& layer : layers) push_back(std::move(layer));
}

void Sequential::push_back(ModulePtr layer) { add_child(std::to_string(size()), std::move(layer)); }

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  const auto& children = named_children();
  for (size_t i = 0; i < children.size(); ++i) {
    // BatchNorm → ReLU runs as one fused op: the BatchNorm's output is seen by nothing else.
    auto* bn = dynamic_cast<BatchNorm*>(children[i].second.get());
    if (bn && i + 1 < children.size() && dynamic_cast<ReLU*>(children[i + 1].second.get())) {
      x = bn->forward_relu(x);
      ++i;
      continue;
    }
    x = children[i].second->forward(x);
  }
  return x;
}

}  // namespace nl::nn
