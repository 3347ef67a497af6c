// StateDict look-ups with errors that name the missing entry, and its flat tensor form.
#include "engine/optim/state_dict.h"

#include "engine/core/error.h"

namespace nl::optim {

double StateDict::scalar(const std::string& key, const char* owner) const {
  auto it = scalars.find(key);
  NL_CHECK(it != scalars.end(), owner, ": state_dict has no scalar '", key, "'");
  return it->second;
}

const Tensor& StateDict::tensor(const std::string& key, const char* owner) const {
  auto it = tensors.find(key);
  NL_CHECK(it != tensors.end(), owner, ": state_dict has no tensor '", key, "'");
  return it->second;
}

std::map<std::string, Tensor> StateDict::to_tensors(const std::string& prefix) const {
  std::map<std::string, Tensor> flat;
  for (const auto& [name, t] : tensors) {
    NL_CHECK(t.dtype() != DType::Float64 || t.dim() != 0, "StateDict::to_tensors: tensor '", name,
             "' is a 0-d float64 tensor, which would read back as a scalar");
    flat[prefix + name] = t;
  }
  for (const auto& [name, v] : scalars) {
    NL_CHECK(!tensors.count(name), "StateDict::to_tensors: '", name, "' is both a tensor and a scalar");
    flat[prefix + name] = from_buffer(&v, sizeof v, Shape{}, DType::Float64);
  }
  return flat;
}

StateDict StateDict::from_tensors(const std::map<std::string, Tensor>& flat, const std::string& prefix) {
  StateDict s;
  for (const auto& [full_name, t] : flat) {
    if (full_name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string name = full_name.substr(prefix.size());
    if (t.dtype() == DType::Float64 && t.dim() == 0) s.scalars[name] = t.item();
    else s.tensors[name] = t;
  }
  return s;
}

}  // namespace nl::optim
