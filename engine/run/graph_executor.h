// The executor: builds runnable modules from a model graph and runs them define-by-run on the
// engine. There is no compile stage: the graph is walked in topological order on every call,
// so a rebuilt graph runs on the next step.
//
//   run::GraphExecutor executor;
//   auto model = executor.build(graph);                 // throws GraphBuildError listing problems
//   Tensor logits = model->forward(x);                  // first Input → first Output
//   auto outs = model->run({{"image", x}});             // by Input name → by Output name
//   // … user edits the graph …
//   model = executor.build(graph);                      // unchanged nodes keep their weights
//
// Note [Module reuse]: the executor remembers, per node id, the module it built and the
// signature it built it from (type, attribute values, inferred input tensors). A rebuild
// reuses the module when the signature is unchanged, so editing one layer never resets the
// weights of the others; a changed layer gets fresh weights (its shapes may differ).
//
// Note [Graph parameter names]: each node's parameters are registered under the node's name
// (dots replaced by underscores), so the state dict reads "conv1.weight", "bn1.running_mean"
// and project weights survive any edit that keeps the names.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph/graph_analysis.h"
#include "engine/graph/model_graph.h"
#include "engine/nn/module.h"
#include "engine/run/trainer.h"

namespace nl::run {

// A graph that cannot be built: every error message of the analysis.
class GraphBuildError : public Error {
 public:
  explicit GraphBuildError(std::vector<graph::NodeMessage> errors, const std::string& text);
  const std::vector<graph::NodeMessage>& errors() const { return errors_; }

 private:
  std::vector<graph::NodeMessage> errors_;
};

class GraphModel : public nn::Module {
 public:
  // One step of the plan: a node, its runnable and where each input comes from.
  struct Step {
    graph::NodeId node = 0;
    std::string name, type;
    graph::Runnable runnable;
    std::vector<std::pair<int, int>> inputs;  // (step index, output port); step -1: graph input
    int graph_input = -1;                     // Input nodes: index into input_names()
  };

  // Runs every Output (and nothing else) on the named inputs; returns tensors by Output name.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs);
  // Single-input form for the trainer: `input` feeds the first Input node; returns what
  // reaches the Loss node's prediction when there is one, else the first Output.
  // Runs every step (Outputs' ancestors) and returns each step's outputs, in plan order: for
  // tests that compare inferred with actual shapes, and for views of activations.
  std::vector<std::vector<Tensor>> run_all_steps(const std::map<std::string, Tensor>& inputs);
  using nn::Module::forward;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GraphModel"; }

  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  const std::vector<Step>& plan() const { return steps_; }
  bool has_loss_node() const { return loss_step_ >= 0; }
  // The training loss: the Loss node when the graph has one, else `fallback`.
  LossFn loss_function(LossFn fallback) const;

  // Copies the weights whose names match; returns the names of model tensors that had no
  // entry in `weights` (freshly initialised). Shape mismatches throw, naming the tensor.
  std::vector<std::string> load_weights(const std::map<std::string, Tensor>& weights);

 private:
  friend class GraphExecutor;
  // Evaluates the steps needed for `wanted` (step indices); values[i] holds step i's outputs.
  std::vector<Tensor> graph_inputs_from(const std::map<std::string, Tensor>& inputs) const;
  // With `fuse`, a BatchNorm whose only reader is a ReLU runs as one fused op (Note
  // [BatchNorm → ReLU in the executor]); run_all_steps does not fuse, so every node's own
  // output stays visible there.
  void evaluate(const std::vector<Tensor>& graph_inputs, const std::vector<int>& wanted,
                std::vector<std::vector<Tensor>>& values, bool fuse = true);
  void find_fusions();

  std::vector<Step> steps_;
  std::vector<std::string> input_names_, output_names_;
  std::vector<std::pair<int, int>> output_edges_;    // per Output: (step, port) feeding it
  int loss_step_ = -1;
  std::pair<int, int> loss_prediction_{-1, 0};
  std::vector<std::vector<int>> needed_for_output_;  // per Output: the steps it depends on
  std::vector<int> needed_for_prediction_;
  std::vector<int> relu_after_;  // per step: the ReLU step it fuses with, or -1
  std::vector<int> fused_into_;  // per step: the BatchNorm step that computes it, or -1
};

class GraphExecutor {
 public:
  // Validates the graph (errors → GraphBuildError) and builds the model, reusing modules of
  // unchanged nodes from the previous build (Note [Module reuse]).
  std::shared_ptr<GraphModel> build(const graph::ModelGraph& graph);
  // Forgets every remembered module: the next build initialises all weights afresh.
  void reset() { cache_.clear(); }

 private:
  struct Cached {
    std::string signature;
    graph::Runnable runnable;
  };
  std::map<graph::NodeId, Cached> cache_;
};

// "conv.1" → "conv_1": a node name as a module name (Note [Graph parameter names]).
std::string module_name_for(const std::string& node_name);

}  // namespace nl::run
