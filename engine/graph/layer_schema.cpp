// Attribute specs, the context layers infer and build from, and Runnable helpers.
#include "engine/graph/layer_schema.h"

#include <cmath>

#include "engine/core/error.h"

namespace nl::graph {

const char* port_type_name(PortType t) {
  switch (t) {
    case PortType::Any: return "tensor";
    case PortType::Float: return "float tensor";
    case PortType::Index: return "index tensor";
  }
  return "?";
}

AttrSpec AttrSpec::boolean(std::string name, bool def, std::string help) {
  return AttrSpec{std::move(name), AttrKind::Bool, def, {}, {}, {}, std::move(help), {}};
}
AttrSpec AttrSpec::integer(std::string name, int64_t def, std::optional<double> min, std::optional<double> max,
                           std::string help) {
  return AttrSpec{std::move(name), AttrKind::Int, def, min, max, {}, std::move(help), {}};
}
AttrSpec AttrSpec::real(std::string name, double def, std::optional<double> min, std::optional<double> max,
                        std::string help) {
  return AttrSpec{std::move(name), AttrKind::Float, def, min, max, {}, std::move(help), {}};
}
AttrSpec AttrSpec::text(std::string name, std::string def, std::string help) {
  return AttrSpec{std::move(name), AttrKind::String, std::move(def), {}, {}, {}, std::move(help), {}};
}
AttrSpec AttrSpec::choice(std::string name, std::string def, std::vector<std::string> choices, std::string help) {
  return AttrSpec{std::move(name), AttrKind::Choice, std::move(def), {}, {}, std::move(choices), std::move(help), {}};
}
AttrSpec AttrSpec::ints(std::string name, std::vector<int64_t> def, std::optional<double> min,
                        std::optional<double> max, std::string help, std::optional<int64_t> size) {
  return AttrSpec{std::move(name), AttrKind::Ints, std::move(def), min, max, {}, std::move(help), size};
}
AttrSpec AttrSpec::floats(std::string name, std::vector<double> def, std::string help) {
  return AttrSpec{std::move(name), AttrKind::Floats, std::move(def), {}, {}, {}, std::move(help), {}};
}

AttrSpec AttrSpec::undeclared(std::string name, const AttrValue& value) {
  static const AttrKind kinds[] = {AttrKind::Bool, AttrKind::Int,  AttrKind::Float,
                                   AttrKind::String, AttrKind::Ints, AttrKind::Floats};
  return AttrSpec{std::move(name), kinds[value.index()], value, {}, {}, {}, "An attribute of the ONNX operator", {}};
}

namespace {
std::string range_error(const AttrSpec& s, double v) {
  if (!((s.min && v < *s.min) || (s.max && v > *s.max))) return {};
  // Built with += : GCC 12 warns (-Wrestrict, a false positive) on "[" + std::string(...).
  std::string out = s.name;
  out += " = ";
  out += attr_value_to_string(v);
  out += " is outside [";
  out += s.min ? attr_value_to_string(*s.min) : std::string("-inf");
  out += ", ";
  out += s.max ? attr_value_to_string(*s.max) : std::string("inf");
  out += "]";
  return out;
}
}  // namespace

std::string AttrSpec::check(const AttrValue& value) const {
  if (!attr_value_matches(kind, value))
    return name + " must be " + (kind == AttrKind::Int || kind == AttrKind::Ints ? "an " : "a ") +
           attr_kind_name(kind) + ", got " + attr_value_to_string(value);
  switch (kind) {
    case AttrKind::Int: return range_error(*this, static_cast<double>(std::get<int64_t>(value)));
    case AttrKind::Float: {
      double v = std::get<double>(value);
      if (!std::isfinite(v)) return name + " must be a finite number";
      return range_error(*this, v);
    }
    case AttrKind::Choice: {
      const auto& s = std::get<std::string>(value);
      for (const auto& c : choices)
        if (c == s) return {};
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
      return name + " = \"" + s + "\" is not one of: " + list;
    }
    case AttrKind::Ints: {
      const auto& v = std::get<std::vector<int64_t>>(value);
      if (list_size && static_cast<int64_t>(v.size()) != *list_size)
        return name + " must have " + std::to_string(*list_size) + " values, got " + std::to_string(v.size());
      for (int64_t x : v)
        if (auto e = range_error(*this, static_cast<double>(x)); !e.empty()) return e;
      return {};
    }
    case AttrKind::Floats: {
      const auto& v = std::get<std::vector<double>>(value);
      if (list_size && static_cast<int64_t>(v.size()) != *list_size)
        return name + " must have " + std::to_string(*list_size) + " values, got " + std::to_string(v.size());
      return {};
    }
    default: return {};
  }
}

LayerContext::LayerContext(const LayerSchema& schema, const AttrMap& attrs, std::vector<const TensorInfo*> inputs)
    : schema_(schema), attrs_(attrs), inputs_(std::move(inputs)) {
  for (const auto& spec : schema.attrs)
    if (!attrs_.count(spec.name)) attrs_[spec.name] = spec.default_value;
}

namespace {
template <class T>
const T& get_attr(const AttrMap& attrs, const std::string& type, const std::string& name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) throw Error(type + ": no attribute '" + name + "'");
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  throw Error(type + ": attribute '" + name + "' has the wrong kind (" + attr_value_to_string(it->second) + ")");
}
}  // namespace

bool LayerContext::boolean(const std::string& n) const { return get_attr<bool>(attrs_, schema_.type, n); }
int64_t LayerContext::integer(const std::string& n) const { return get_attr<int64_t>(attrs_, schema_.type, n); }
double LayerContext::real(const std::string& n) const { return get_attr<double>(attrs_, schema_.type, n); }
const std::string& LayerContext::text(const std::string& n) const {
  return get_attr<std::string>(attrs_, schema_.type, n);
}
const std::vector<int64_t>& LayerContext::ints(const std::string& n) const {
  return get_attr<std::vector<int64_t>>(attrs_, schema_.type, n);
}
const std::vector<double>& LayerContext::floats(const std::string& n) const {
  return get_attr<std::vector<double>>(attrs_, schema_.type, n);
}

const TensorInfo& LayerContext::input(size_t i) const {
  if (!has_input(i)) {
    std::string port = i < schema_.inputs.size() ? schema_.inputs[i].name
                                                 : (schema_.inputs.empty() ? "input" : schema_.inputs.back().name);
    fail("input '" + port + "' is not connected", static_cast<int>(i));
  }
  return *inputs_[i];
}

const TensorInfo& LayerContext::input_of_rank(size_t i, int64_t rank, const char* what) const {
  const TensorInfo& t = input(i);
  if (t.rank() != rank)
    fail("expects a rank-" + std::to_string(rank) + " input (" + what + "), got " + shape_to_string(t.shape),
         static_cast<int>(i));
  return t;
}

int64_t LayerContext::known_dim(size_t i, int64_t dim) const {
  const TensorInfo& t = input(i);
  int64_t d = dim < 0 ? dim + t.rank() : dim;
  if (d < 0 || d >= t.rank())
    fail("input " + shape_to_string(t.shape) + " has no dimension " + std::to_string(dim), static_cast<int>(i));
  if (!t.shape[d].is_known())
    fail("dimension " + std::to_string(d) + " of input " + shape_to_string(t.shape) +
             " must be known to build this layer",
         static_cast<int>(i));
  return t.shape[d].size;
}

void LayerContext::fail(const std::string& message, int input_port) const { throw LayerError{message, input_port}; }

Runnable Runnable::of(std::shared_ptr<nn::Module> module) {
  Runnable r;
  r.module = module;
  nn::Module* m = module.get();
  r.forward = [m](const std::vector<Tensor>& inputs) { return std::vector<Tensor>{m->forward(inputs)}; };
  return r;
}

Runnable Runnable::op(std::function<Tensor(const std::vector<Tensor>&)> fn) {
  Runnable r;
  r.forward = [fn = std::move(fn)](const std::vector<Tensor>& inputs) { return std::vector<Tensor>{fn(inputs)}; };
  return r;
}

const AttrSpec* LayerSchema::find_attr(const std::string& name) const {
  for (const auto& a : attrs)
    if (a.name == name) return &a;
  return nullptr;
}

int LayerSchema::output_count(const AttrMap& resolved_attrs) const {
  return num_outputs ? num_outputs(resolved_attrs) : static_cast<int>(outputs.size());
}

int LayerSchema::variadic_input() const {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].variadic) return static_cast<int>(i);
  return -1;
}

LayerSchema make_schema(std::string type, std::string category, std::string help, std::vector<PortSpec> inputs,
                        std::vector<AttrSpec> attrs, PortSpec output) {
  LayerSchema s;
  s.type = std::move(type);
  s.category = std::move(category);
  s.help = std::move(help);
  s.inputs = std::move(inputs);
  s.outputs = {std::move(output)};
  s.attrs = std::move(attrs);
  return s;
}

}  // namespace nl::graph
