// Layer schemas of the activations (ReLU, ReLU6, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, Softmax).
#include <memory>

#include "engine/graph/layer_registry.h"
#include "engine/nn/activation.h"
#include "engine/ops/elementwise.h"

namespace nl::graph {

namespace {

// Activations compute on floats; an Input node with a configurable dtype reaches here
// unchecked by the port type.
const TensorInfo& float_input(const LayerContext& ctx, const std::string& type) {
  const TensorInfo& x = ctx.input(0);
  if (!is_floating(x.dtype))
    ctx.fail(type + ": expects a float tensor, got " + dtype_name(x.dtype) + " " + shape_to_string(x.shape), 0);
  return x;
}

PortSpec float_port(std::string name) { return {std::move(name), PortType::Float, false, false, {}}; }

// An activation changes values only, so its output is its input's shape. FLOPs are rough
// counts of arithmetic per element (exp, tanh and erf counted as one each), enough to
// compare layers on the cost overlay.
LayerSchema activation(std::string type, std::string help, int64_t flops_per_element,
                       std::function<Runnable(const LayerContext&)> build, std::vector<AttrSpec> attrs = {}) {
  LayerSchema s;
  s.type = std::move(type);
  s.category = "Activation";
  s.help = std::move(help);
  s.inputs = {float_port("input")};
  s.outputs = {float_port("output")};
  s.attrs = std::move(attrs);
  s.infer = [type = s.type](LayerContext& ctx) { ctx.outputs = {float_input(ctx, type)}; };
  s.cost = [flops_per_element](const LayerContext& ctx) {
    return LayerCost{.params = 0, .flops = flops_per_element * numel_per_sample(ctx.outputs[0].shape)};
  };
  s.build = std::move(build);
  return s;
}

template <class M>
std::function<Runnable(const LayerContext&)> module_of() {
  return [](const LayerContext&) { return Runnable::of(std::make_shared<M>()); };
}

}  // namespace

void register_activation_layers(LayerRegistry& r) {
  r.add(activation("ReLU", "Keeps positive values and sets negative ones to zero: max(0, x). Works on any shape.", 1,
                   module_of<nn::ReLU>()));

  // No module of its own: a clamp is all it is, and it has no parameters to hold.
  r.add(activation("ReLU6",
                   "Like ReLU but also caps values at 6: min(max(0, x), 6), as in MobileNet. Works on any shape.", 2,
                   [](const LayerContext&) {
                     return Runnable::op([](const std::vector<Tensor>& in) { return clamp(in[0], 0.0, 6.0); });
                   }));

  r.add(activation(
      "LeakyReLU",
      "Like ReLU, but negative values are multiplied by a small slope instead of zeroed, so they still learn. "
      "Works on any shape.",
      2,
      [](const LayerContext& ctx) { return Runnable::of(std::make_shared<nn::LeakyReLU>(ctx.real("negative_slope"))); },
      {AttrSpec::real("negative_slope", 0.01, std::nullopt, std::nullopt, "Slope for negative inputs")}));

  r.add(activation(
      "GELU",
      "A smooth ReLU used in Transformers: x weighted by the chance that a standard normal value is below x. "
      "Works on any shape.",
      8,
      [](const LayerContext& ctx) {
        auto approx = ctx.text("approximate") == "tanh" ? GeluApproximation::Tanh : GeluApproximation::None;
        return Runnable::of(std::make_shared<nn::GELU>(approx));
      },
      {AttrSpec::choice("approximate", "none", {"none", "tanh"},
                        "\"none\" computes the exact erf form; \"tanh\" the faster approximation")}));

  r.add(activation("SiLU", "x times sigmoid(x) (also called Swish), a smooth ReLU. Works on any shape.", 4,
                   module_of<nn::SiLU>()));

  r.add(activation("Sigmoid",
                   "Squashes every value into (0, 1): 1 / (1 + e^-x). Use it for yes/no probabilities. "
                   "Works on any shape.",
                   3, module_of<nn::Sigmoid>()));

  r.add(activation("Tanh", "Squashes every value into (-1, 1). Works on any shape.", 1, module_of<nn::Tanh>()));

  LayerSchema softmax = activation(
      "Softmax",
      "Turns the scores along one dimension into probabilities that sum to 1. For N×C class scores keep "
      "dim = -1 (the classes).",
      4, [](const LayerContext& ctx) { return Runnable::of(std::make_shared<nn::Softmax>(ctx.integer("dim"))); },
      {AttrSpec::integer("dim", -1, std::nullopt, std::nullopt,
                         "Dimension whose values become probabilities (negative counts from the end)")});
  softmax.infer = [](LayerContext& ctx) {
    const TensorInfo& x = float_input(ctx, "Softmax");
    int64_t dim = ctx.integer("dim"), rank = x.rank();
    if (dim < -rank || dim >= rank)
      ctx.fail("Softmax: dim " + std::to_string(dim) + " is out of range for input " + shape_to_string(x.shape) +
               " (rank " + std::to_string(rank) + ")");
    // Over the batch, each sample's probabilities would depend on the others in its batch.
    if (rank > 1 && (dim + rank) % rank == 0 && x.shape[0].symbol == "N")
      ctx.warn("Softmax: dim " + std::to_string(dim) + " is the batch dimension; you probably want -1");
    ctx.outputs = {x};
  };
  r.add(std::move(softmax));
}

}  // namespace nl::graph
