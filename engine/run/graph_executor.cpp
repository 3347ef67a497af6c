// Builds a GraphModel from a model graph and runs it (see graph_executor.h).
#include "engine/run/graph_executor.h"

#include <algorithm>
#include <set>

#include "engine/core/error.h"
#include "engine/nn/activation.h"
#include "engine/nn/norm.h"

namespace nl::run {

namespace {

std::string join_errors(const graph::ModelGraph& g, const std::vector<graph::NodeMessage>& errors) {
  std::string text = "the model cannot run:";
  for (const auto& m : errors) {
    const graph::Node* n = g.find(m.node);
    text += "\n  " + (n ? n->name + " (" + n->type + ", node " + std::to_string(n->id) + "): " : std::string()) + m.text;
  }
  return text;
}

std::string tensor_signature(const std::optional<graph::TensorInfo>& t) {
  if (!t) return "-";
  return std::string(dtype_name(t->dtype)) + ":" + graph::shape_to_string(t->shape);
}

// Everything a node's module depends on (Note [Module reuse]).
std::string signature(const graph::ModelGraph& g, const graph::Node& n, const graph::NodeAnalysis& na) {
  std::string s = n.type;
  for (const auto& [k, v] : g.resolved_attributes(n.id)) s += "|" + k + "=" + graph::attr_value_to_string(v);
  for (const auto& t : na.inputs) s += "|in " + tensor_signature(t);
  return s;
}

// Step indices `start` depends on, itself included, in plan order.
std::vector<int> ancestors(const std::vector<GraphModel::Step>& steps, int start) {
  std::vector<char> seen(steps.size(), 0);
  std::vector<int> stack{start};
  while (!stack.empty()) {
    int s = stack.back();
    stack.pop_back();
    if (s < 0 || seen[s]) continue;
    seen[s] = 1;
    for (const auto& [src, port] : steps[s].inputs) stack.push_back(src);
  }
  std::vector<int> out;
  for (size_t i = 0; i < steps.size(); ++i)
    if (seen[i]) out.push_back(static_cast<int>(i));
  return out;
}

}  // namespace

GraphBuildError::GraphBuildError(std::vector<graph::NodeMessage> errors, const std::string& text)
    : Error(text), errors_(std::move(errors)) {}

std::string module_name_for(const std::string& node_name) {
  std::string s = node_name;
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

// ---------------------------------------------------------------------------------------
// Building

std::shared_ptr<GraphModel> GraphExecutor::build(const graph::ModelGraph& g) {
  graph::GraphAnalysis analysis = graph::analyze(g);
  std::vector<graph::NodeMessage> errors;
  for (const auto& m : analysis.messages)
    if (m.severity == graph::Severity::Error) errors.push_back(m);
  if (!errors.empty()) throw GraphBuildError(errors, join_errors(g, errors));

  auto model = std::make_shared<GraphModel>();
  std::map<graph::NodeId, int> step_of;
  std::map<graph::NodeId, Cached> next_cache;
  std::set<std::string> module_names;
  for (graph::NodeId id : analysis.order) {
    const graph::NodeAnalysis& na = analysis.nodes.at(id);
    if (!na.reaches_output) continue;  // dead branches do not run (analysis warned)
    const graph::Node& n = g.node(id);
    const graph::LayerSchema& schema = g.registry().get(n.type);

    GraphModel::Step step;
    step.node = id;
    step.name = n.name;
    step.type = n.type;
    std::string sig = signature(g, n, na);
    auto cached = cache_.find(id);
    if (cached != cache_.end() && cached->second.signature == sig) {
      step.runnable = cached->second.runnable;
    } else {
      std::vector<const graph::TensorInfo*> ptrs;
      for (const auto& t : na.inputs) ptrs.push_back(t ? &*t : nullptr);
      graph::LayerContext ctx(schema, n.attrs, ptrs);
      try {
        step.runnable = schema.build(ctx);
      } catch (const std::exception& e) {
        throw Error("building " + n.name + " (" + n.type + ", node " + std::to_string(id) + "): " + e.what());
      }
    }
    next_cache[id] = Cached{sig, step.runnable};

    for (const graph::Edge& e : g.edges_into(id)) {
      auto it = step_of.find(e.from.node);
      NL_CHECK(it != step_of.end(), "executor: node ", n.name, " reads a node that does not run");
      if (static_cast<int>(step.inputs.size()) <= e.to.port) step.inputs.resize(e.to.port + 1, {-1, 0});
      step.inputs[e.to.port] = {it->second, e.from.port};
    }
    int index = static_cast<int>(model->steps_.size());
    if (n.type == "Input") {
      step.graph_input = static_cast<int>(model->input_names_.size());
      model->input_names_.push_back(n.name);
    } else if (n.type == "Output") {
      NL_CHECK(!step.inputs.empty(), "executor: Output ", n.name, " has no input");
      model->output_names_.push_back(n.name);
      model->output_edges_.push_back(step.inputs[0]);
    } else if (schema.training_only) {
      model->loss_step_ = index;
      model->loss_prediction_ = step.inputs.empty() ? std::pair{-1, 0} : step.inputs[0];
    }
    if (step.runnable.module) {
      std::string name = module_name_for(n.name);
      NL_CHECK(module_names.insert(name).second, "executor: two nodes map to the module name '", name, "'");
      model->add_child(name, step.runnable.module);
    }
    step_of[id] = index;
    model->steps_.push_back(std::move(step));
  }
  cache_ = std::move(next_cache);

  model->find_fusions();
  for (const auto& [src, port] : model->output_edges_) model->needed_for_output_.push_back(ancestors(model->steps_, src));
  if (model->loss_step_ >= 0 && model->loss_prediction_.first >= 0)
    model->needed_for_prediction_ = ancestors(model->steps_, model->loss_prediction_.first);
  else if (!model->output_edges_.empty())
    model->needed_for_prediction_ = model->needed_for_output_.front();
  return model;
}

// ---------------------------------------------------------------------------------------
// Running

// Note [BatchNorm → ReLU in the executor]
// A BatchNorm node whose output goes to one ReLU node and nowhere else (no other edge, no
// Output, no Loss) runs as batch_norm_relu: one pass over the activations instead of two,
// forward and backward (engine/ops/norm.h). The ReLU step then takes the fused result; the
// BatchNorm step's own value is never read by anything, since the ReLU was its only reader.
void GraphModel::find_fusions() {
  relu_after_.assign(steps_.size(), -1);
  fused_into_.assign(steps_.size(), -1);
  std::vector<int> readers(steps_.size(), 0);
  for (const Step& step : steps_)
    for (const auto& [src, port] : step.inputs)
      if (src >= 0) ++readers[src];
  for (const auto& [src, port] : output_edges_)
    if (src >= 0) ++readers[src];
  for (size_t r = 0; r < steps_.size(); ++r) {
    const Step& relu = steps_[r];
    if (!dynamic_cast<nn::ReLU*>(relu.runnable.module.get()) || relu.inputs.size() != 1) continue;
    const auto [src, port] = relu.inputs[0];
    if (src < 0 || port != 0 || readers[src] != 1) continue;
    if (!dynamic_cast<nn::BatchNorm*>(steps_[src].runnable.module.get())) continue;
    relu_after_[src] = static_cast<int>(r);
    fused_into_[r] = src;
  }
}

// Note [Host values in a model on a device]: imported graphs compute some tensors on the
// host whatever the model's device: Shape and Size give host shape values, and what is built
// from them (ConstantOfShape's zeros, a Range) stays there (Note [Devices of generic ops] in
// engine/graph/onnx_ops/onnx_op.h). When such a tensor reaches a layer of a model running on
// a device, it joins the device here: every host input of a Netloom layer, and the
// floating-point ones of a generic OnnxOp node (its integer inputs may be shape values it
// reads on the host, and it brings them over itself where it uses them as data). The
// model's device is that of its inputs.
namespace {

Device device_of(const std::vector<Tensor>& graph_inputs) {
  for (const Tensor& t : graph_inputs)
    if (t.defined() && !t.device().is_cpu()) return t.device();
  return Device::cpu();
}

void bring_host_values(std::vector<Tensor>& args, Device device, bool generic_op) {
  for (Tensor& t : args)
    if (t.defined() && t.device().is_cpu() && (!generic_op || is_floating(t.dtype()))) t = t.to(device);
}

}  // namespace

void GraphModel::evaluate(const std::vector<Tensor>& graph_inputs, const std::vector<int>& wanted,
                          std::vector<std::vector<Tensor>>& values, bool fuse) {
  values.assign(steps_.size(), {});
  const Device device = device_of(graph_inputs);
  std::vector<Tensor> args;
  for (int s : wanted) {
    Step& step = steps_[s];
    if (fuse && fused_into_[s] >= 0 && !values[s].empty()) continue;  // computed with its BatchNorm
    args.clear();
    if (step.graph_input >= 0) {
      args.push_back(graph_inputs.at(step.graph_input));
    } else {
      for (const auto& [src, port] : step.inputs) {
        if (src < 0) {
          args.emplace_back();  // unconnected optional input
          continue;
        }
        args.push_back(values[src].at(port));
      }
      if (!device.is_cpu()) bring_host_values(args, device, step.type == "OnnxOp");
    }
    try {
      if (fuse && relu_after_[s] >= 0 && args.size() == 1) {
        auto* bn = static_cast<nn::BatchNorm*>(step.runnable.module.get());
        values[s] = {bn->forward_relu(args[0])};
        values[relu_after_[s]] = values[s];
      } else {
        values[s] = step.runnable.forward(args);
      }
    } catch (const OutOfMemoryError& e) {
      // Kept as OutOfMemoryError: callers free memory and retry smaller on it.
      throw OutOfMemoryError(step.name + " (" + step.type + "): " + e.what());
    } catch (const std::exception& e) {
      throw Error(step.name + " (" + step.type + "): " + e.what());
    }
  }
}

std::vector<Tensor> GraphModel::graph_inputs_from(const std::map<std::string, Tensor>& inputs) const {
  for (const auto& [name, t] : inputs)
    if (std::find(input_names_.begin(), input_names_.end(), name) == input_names_.end())
      throw Error("the model has no input named '" + name + "'");
  std::vector<Tensor> graph_inputs(input_names_.size());
  for (size_t i = 0; i < input_names_.size(); ++i) {
    auto it = inputs.find(input_names_[i]);
    if (it != inputs.end()) graph_inputs[i] = it->second;
  }
  return graph_inputs;
}

std::map<std::string, Tensor> GraphModel::run(const std::map<std::string, Tensor>& inputs) {
  std::vector<Tensor> graph_inputs = graph_inputs_from(inputs);
  std::set<int> wanted_set;
  for (const auto& needed : needed_for_output_) wanted_set.insert(needed.begin(), needed.end());
  for (int s : wanted_set)
    if (steps_[s].graph_input >= 0 && !graph_inputs[steps_[s].graph_input].defined())
      throw Error("no value given for the model input '" + steps_[s].name + "'");
  std::vector<std::vector<Tensor>> values;
  evaluate(graph_inputs, std::vector<int>(wanted_set.begin(), wanted_set.end()), values);
  std::map<std::string, Tensor> out;
  for (size_t o = 0; o < output_names_.size(); ++o) {
    const auto& [src, port] = output_edges_[o];
    out[output_names_[o]] = values[src].at(port);
  }
  return out;
}

std::vector<std::vector<Tensor>> GraphModel::run_all_steps(const std::map<std::string, Tensor>& inputs) {
  std::vector<Tensor> graph_inputs = graph_inputs_from(inputs);
  std::vector<int> wanted;
  for (size_t s = 0; s < steps_.size(); ++s)
    if (!(s == static_cast<size_t>(loss_step_))) wanted.push_back(static_cast<int>(s));
  std::vector<std::vector<Tensor>> values;
  evaluate(graph_inputs, wanted, values, /*fuse=*/false);  // every node's own output
  return values;
}

Tensor GraphModel::forward(const Tensor& input) {
  NL_CHECK(!input_names_.empty(), "the model has no Input node");
  NL_CHECK(!needed_for_prediction_.empty(), "the model has no Output node");
  std::vector<Tensor> graph_inputs(input_names_.size());
  graph_inputs[0] = input;
  for (int s : needed_for_prediction_)
    if (steps_[s].graph_input > 0)
      throw Error("the model needs input '" + steps_[s].name + "' besides '" + input_names_[0] +
                  "'; the trainer feeds one input");
  std::vector<std::vector<Tensor>> values;
  evaluate(graph_inputs, needed_for_prediction_, values);
  const auto& [src, port] = loss_step_ >= 0 ? loss_prediction_ : output_edges_.front();
  return values[src].at(port);
}

LossFn GraphModel::loss_function(LossFn fallback) const {
  if (loss_step_ < 0) return fallback;
  auto forward = steps_[loss_step_].runnable.forward;
  std::string name = steps_[loss_step_].name;
  return [forward, name](const Tensor& prediction, const Tensor& target) {
    try {
      return forward({prediction, target}).at(0);
    } catch (const std::exception& e) {
      throw Error(name + " (Loss): " + e.what());
    }
  };
}

std::vector<std::string> GraphModel::load_weights(const std::map<std::string, Tensor>& weights) {
  std::map<std::string, Tensor> present;
  std::vector<std::string> missing;
  for (const auto& [name, t] : state_dict()) {
    auto it = weights.find(name);
    if (it == weights.end())
      missing.push_back(name);
    else
      present[name] = it->second;
  }
  load_state_dict(present, /*strict=*/false);
  return missing;
}

}  // namespace nl::run
