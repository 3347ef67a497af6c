// The layer registry and the built-in set of layers.
#include "engine/graph/layer_registry.h"

#include <algorithm>

#include "engine/core/error.h"

namespace nl::graph {

void LayerRegistry::add(LayerSchema schema) {
  const std::string& t = schema.type;
  if (t.empty()) throw Error("layer registry: a schema has no type");
  if (schemas_.count(t)) throw Error("layer registry: '" + t + "' is registered twice");
  if (!schema.infer) throw Error("layer registry: '" + t + "' has no shape inference");
  if (!schema.build) throw Error("layer registry: '" + t + "' has no build function");
  for (size_t i = 0; i < schema.inputs.size(); ++i)
    if (schema.inputs[i].variadic && i + 1 != schema.inputs.size())
      throw Error("layer registry: '" + t + "': only the last input port may be variadic");
  for (const auto& a : schema.attrs) {
    std::string why = a.check(a.default_value);
    if (!why.empty()) throw Error("layer registry: '" + t + "': default of " + why);
  }
  if (std::find(categories_.begin(), categories_.end(), schema.category) == categories_.end())
    categories_.push_back(schema.category);
  schemas_.emplace(t, std::move(schema));
}

const LayerSchema* LayerRegistry::find(const std::string& type) const {
  auto it = schemas_.find(type);
  return it == schemas_.end() ? nullptr : &it->second;
}

const LayerSchema& LayerRegistry::get(const std::string& type) const {
  if (const LayerSchema* s = find(type)) return *s;
  throw Error("unknown layer type '" + type + "'");
}

std::vector<std::string> LayerRegistry::types() const {
  std::vector<std::string> out;
  for (const auto& [t, s] : schemas_) out.push_back(t);
  return out;
}

std::vector<std::string> LayerRegistry::categories() const { return categories_; }

const LayerRegistry& LayerRegistry::builtin() {
  static const LayerRegistry registry = [] {
    LayerRegistry r;
    register_io_layers(r);
    register_dense_layers(r);
    register_conv_layers(r);
    register_pool_layers(r);
    register_norm_layers(r);
    register_activation_layers(r);
    register_sequence_layers(r);
    register_shape_layers(r);
    register_onnx_op_layer(r);
    return r;
  }();
  return registry;
}

}  // namespace nl::graph
