// A small layer registry for tests of graph files and projects, independent of the built-in
// layers: Input, Linear, ReLU, Output, and Probe (one attribute of every kind, no ports to
// speak of) so that file round trips can be tested on every attribute kind.
#pragma once
#include <memory>

#include "engine/graph/layer_registry.h"
#include "engine/graph/model_graph.h"
#include "engine/nn/activation.h"
#include "engine/nn/linear.h"

namespace nl::testing {

inline const graph::LayerRegistry& mini_registry() {
  using namespace nl::graph;
  static const LayerRegistry registry = [] {
    LayerRegistry r;
    LayerSchema input;
    input.type = "Input";
    input.category = "Input/Output";
    input.outputs = {{"output"}};
    input.attrs = {AttrSpec::ints("shape", {-1, 2}, -1, 1 << 20, "Sample shape, -1 for the batch")};
    input.infer = [](LayerContext& c) { c.outputs = {TensorInfo{DType::Float32, shape_from_ints(c.ints("shape"))}}; };
    input.build = [](const LayerContext&) { return Runnable::op([](const std::vector<Tensor>& x) { return x.at(0); }); };
    r.add(input);

    LayerSchema linear;
    linear.type = "Linear";
    linear.category = "Dense";
    linear.inputs = {{"input", PortType::Float}};
    linear.outputs = {{"output", PortType::Float}};
    linear.attrs = {AttrSpec::integer("out_features", 8, 1, 1 << 20, "Outputs"),
                    AttrSpec::boolean("bias", true, "Add a bias")};
    linear.infer = [](LayerContext& c) {
      const TensorInfo& in = c.input(0);
      c.known_dim(0, -1);
      TensorInfo out = in;
      out.shape.back() = Dim::known(c.integer("out_features"));
      c.outputs = {out};
    };
    linear.build = [](const LayerContext& c) {
      return Runnable::of(std::make_shared<nn::Linear>(c.known_dim(0, -1), c.integer("out_features"), c.boolean("bias")));
    };
    r.add(linear);

    LayerSchema relu;
    relu.type = "ReLU";
    relu.category = "Activation";
    relu.inputs = {{"input"}};
    relu.outputs = {{"output"}};
    relu.infer = [](LayerContext& c) { c.outputs = {c.input(0)}; };
    relu.build = [](const LayerContext&) { return Runnable::of(std::make_shared<nn::ReLU>()); };
    r.add(relu);

    LayerSchema output;
    output.type = "Output";
    output.category = "Input/Output";
    output.inputs = {{"input"}};
    output.infer = [](LayerContext& c) { c.input(0); };
    output.build = [](const LayerContext&) { return Runnable::op([](const std::vector<Tensor>& x) { return x.at(0); }); };
    r.add(output);

    LayerSchema probe;
    probe.type = "Probe";
    probe.category = "Test";
    probe.inputs = {{"input", PortType::Any, /*optional=*/true}};
    probe.outputs = {{"output"}};
    probe.attrs = {AttrSpec::boolean("flag", false, ""),
                   AttrSpec::integer("count", 1, -1000, 1000, ""),
                   AttrSpec::real("ratio", 0.5, 0.0, 10.0, ""),
                   AttrSpec::text("label", "", ""),
                   AttrSpec::choice("mode", "same", {"same", "valid"}, ""),
                   AttrSpec::ints("sizes", {3, 3}, 0, 100, ""),
                   AttrSpec::floats("scales", {1.0}, "")};
    probe.infer = [](LayerContext& c) { c.outputs = {TensorInfo{DType::Float32, shape_from_ints({-1, 1})}}; };
    probe.build = [](const LayerContext&) { return Runnable::op([](const std::vector<Tensor>& x) { return x.at(0); }); };
    r.add(probe);
    return r;
  }();
  return registry;
}

// Input(x, [-1, 2]) → Linear fc1 (16) → ReLU → Linear fc2 (3) → Output, with UI positions.
inline graph::ModelGraph mini_mlp(const graph::LayerRegistry& r = mini_registry()) {
  using namespace nl::graph;
  ModelGraph g(r);
  NodeId in = g.add_node("Input", "x", {{"shape", std::vector<int64_t>{-1, 2}}}, {10, 20}).value;
  NodeId fc1 = g.add_node("Linear", "fc1", {{"out_features", int64_t{16}}}, {10, 120, "#ff0000", false, "block"}).value;
  NodeId act = g.add_node("ReLU", "act", {}, {10, 220}).value;
  NodeId fc2 = g.add_node("Linear", "fc2", {{"out_features", int64_t{3}}, {"bias", false}}, {10.5, 320, "", true}).value;
  NodeId out = g.add_node("Output", "y", {}, {10, 420}).value;
  for (auto [a, b] : std::vector<std::pair<NodeId, NodeId>>{{in, fc1}, {fc1, act}, {act, fc2}, {fc2, out}})
    if (!g.connect({{a, 0}, {b, 0}})) throw Error("mini_mlp: connect failed");
  return g;
}

}  // namespace nl::testing
