// A layer schema: everything Netloom knows about one layer type (ports, attributes with
// defaults and ranges, category and help, shape inference, cost, and how to build the
// runnable module). The registry holds one per type; the editor generates its inspector
// from it, the executor builds from it, the importers map ONNX ops onto it.
//
//   LayerSchema s;
//   s.type = "Linear"; s.category = "Dense"; s.help = "y = x·Wᵀ + b";
//   s.inputs = {{"input"}}; s.outputs = {{"output"}};
//   s.attrs = {AttrSpec::integer("out_features", 64, 1, 1 << 20, "Number of outputs")};
//   s.infer = [](LayerContext& c) { … c.set_output(0, …); };
//   s.build = [](const LayerContext& c) { return Runnable::of(std::make_shared<nn::Linear>(…)); };
//
// Note [Inferred sizes]: like PyTorch's Lazy modules (and MATLAB's "auto"), sizes that follow
// from the input (Linear's in_features, Conv2d's in_channels, BatchNorm's num_features) are
// not attributes: shape inference reads them from the input shape and build() receives the
// inferred input shapes. So a user changing a layer upstream never has to fix the layers
// below by hand.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/graph/attribute.h"
#include "engine/graph/symbolic_shape.h"
#include "engine/nn/module.h"

namespace nl::graph {

// Which tensors a port carries. Connect refuses Float→Index and Index→Float outright;
// Any defers to shape inference (e.g. an Input node whose dtype is an attribute).
enum class PortType { Any, Float, Index };
const char* port_type_name(PortType t);

struct PortSpec {
  std::string name;
  PortType type = PortType::Any;
  bool optional = false;
  // Only the last input port may be variadic: it accepts any number of edges, in slots
  // numbered from its index upwards (Add and Concat).
  bool variadic = false;
  std::string help;
};

// A port with every field given (brace-initialising PortSpec partly trips -Wextra).
inline PortSpec port(std::string name, PortType type = PortType::Any, bool optional = false, std::string help = {},
                     bool variadic = false) {
  return PortSpec{std::move(name), type, optional, variadic, std::move(help)};
}

struct AttrSpec {
  std::string name;
  AttrKind kind = AttrKind::Int;
  AttrValue default_value;
  std::optional<double> min, max;     // inclusive; for lists, per element
  std::vector<std::string> choices;   // Choice
  std::string help;
  std::optional<int64_t> list_size;   // Ints/Floats of a fixed length

  static AttrSpec boolean(std::string name, bool def, std::string help);
  static AttrSpec integer(std::string name, int64_t def, std::optional<double> min, std::optional<double> max,
                          std::string help);
  static AttrSpec real(std::string name, double def, std::optional<double> min, std::optional<double> max,
                       std::string help);
  static AttrSpec text(std::string name, std::string def, std::string help);
  static AttrSpec choice(std::string name, std::string def, std::vector<std::string> choices, std::string help);
  static AttrSpec ints(std::string name, std::vector<int64_t> def, std::optional<double> min,
                       std::optional<double> max, std::string help, std::optional<int64_t> size = std::nullopt);
  static AttrSpec floats(std::string name, std::vector<double> def, std::string help);
  // The spec of an attribute a node of an open schema carries without a declaration: its
  // kind follows the value (so the inspector can show and edit it).
  static AttrSpec undeclared(std::string name, const AttrValue& value);

  // Empty when `value` is acceptable, else why not (kind, range, choice, list length).
  std::string check(const AttrValue& value) const;
};

// Thrown by LayerContext::fail inside infer(); analysis turns it into a node message.
struct LayerError {
  std::string message;
  int input_port = -1;  // the input at fault, when there is one (edge turns red)
};

// What infer() and build() see of a node: its attributes (defaults filled in) and the
// tensors on its inputs (null for an unconnected optional input).
class LayerContext {
 public:
  LayerContext(const struct LayerSchema& schema, const AttrMap& attrs, std::vector<const TensorInfo*> inputs);

  const AttrMap& attrs() const { return attrs_; }
  bool boolean(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double real(const std::string& name) const;
  const std::string& text(const std::string& name) const;  // String and Choice
  const std::vector<int64_t>& ints(const std::string& name) const;
  const std::vector<double>& floats(const std::string& name) const;

  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  const TensorInfo& input(size_t i) const;  // fails when absent
  // Fails unless input i has the given rank; `what` names the layout ("N×C×H×W").
  const TensorInfo& input_of_rank(size_t i, int64_t rank, const char* what) const;
  // Fails unless dimension `dim` of input i is known (a size the layer needs to build).
  int64_t known_dim(size_t i, int64_t dim) const;

  [[noreturn]] void fail(const std::string& message, int input_port = -1) const;
  void warn(const std::string& message) { warnings_.push_back(message); }

  // infer() fills these.
  std::vector<TensorInfo> outputs;
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  const LayerSchema& schema_;
  AttrMap attrs_;
  std::vector<const TensorInfo*> inputs_;
  std::vector<std::string> warnings_;
};

// Forward cost per sample (the symbolic batch taken as 1): FLOPs count a multiply-add as 2.
struct LayerCost {
  int64_t params = 0;
  int64_t flops = 0;
};

// What build() returns: the module that holds the node's parameters (null for a stateless
// op) and the function that runs it on the node's inputs, giving one tensor per output.
struct Runnable {
  std::shared_ptr<nn::Module> module;
  std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)> forward;

  // The common case: a module with one output, fed all inputs.
  static Runnable of(std::shared_ptr<nn::Module> module);
  // A stateless op.
  static Runnable op(std::function<Tensor(const std::vector<Tensor>&)> fn);
};

struct LayerSchema {
  std::string type;       // "Conv2d": the node's layer type, unique in the registry
  std::string category;   // palette group: "Input/Output", "Convolution", "Activation" …
  std::string help;       // one or two sentences for the inspector and palette tooltip
  std::vector<PortSpec> inputs;
  std::vector<PortSpec> outputs;
  std::vector<AttrSpec> attrs;
  // For layers whose output count follows an attribute (Split): the number of outputs, all
  // described by outputs[0]. Null: one output per entry of `outputs`.
  std::function<int(const AttrMap& resolved_attrs)> num_outputs;
  // Marks a node that only training uses (the loss node): run/export leave it out.
  bool training_only = false;
  // Accepts attributes the schema does not declare, of any kind (the generic OnnxOp node
  // keeps an ONNX node's own attributes under their ONNX names).
  bool open_attributes = false;

  // Sets ctx.outputs (one per output port) or calls ctx.fail.
  std::function<void(LayerContext& ctx)> infer;
  // Per-sample parameters and FLOPs, given the inferred outputs (ctx.outputs is filled).
  std::function<LayerCost(const LayerContext& ctx)> cost;
  // The runnable layer; ctx holds the inferred input shapes (Note [Inferred sizes]).
  std::function<Runnable(const LayerContext& ctx)> build;

  const AttrSpec* find_attr(const std::string& name) const;
  // Output count for a node with these attributes (defaults filled in).
  int output_count(const AttrMap& resolved_attrs) const;
  // Index of the variadic input port, or -1.
  int variadic_input() const;
};

// The fixed fields of a schema with one output port; the caller sets infer, cost and build.
LayerSchema make_schema(std::string type, std::string category, std::string help, std::vector<PortSpec> inputs,
                        std::vector<AttrSpec> attrs, PortSpec output);

}  // namespace nl::graph
