// Shape inference and validation over a whole model graph, run after every edit: the
// inferred tensor on every port, per-node messages (error or warning, with the node id and
// the input at fault), and the per-node cost the model summary is made of.
//
//   GraphAnalysis a = analyze(graph);
//   for (const auto& m : a.messages) show(m.node, m.text);
//   const TensorInfo* t = a.output(conv_id, 0);       // null when inference failed upstream
//
// Note [Analysis cost]: one pass in topological order; each node's inference sees only its
// inputs' inferred tensors, so a 2,000-node graph takes a few milliseconds and the editor can
// run it on every edit. A node whose input failed is skipped without a message of its own,
// so one mistake gives one message, on the node that causes it.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/model_graph.h"

namespace nl::graph {

enum class Severity { Error, Warning };

struct NodeMessage {
  NodeId node = 0;  // 0: about the graph as a whole (no Input node …)
  Severity severity = Severity::Error;
  std::string text;
  int input_port = -1;  // the input slot at fault, when there is one (its edge turns red)
};

struct NodeAnalysis {
  std::vector<std::optional<TensorInfo>> inputs;   // per input slot
  std::vector<std::optional<TensorInfo>> outputs;  // per output port; empty when inference failed
  LayerCost cost;
  int64_t activation_bytes = 0;  // per sample: the outputs' elements × dtype size
  bool inferred = false;         // inference ran and succeeded
  bool reaches_output = false;   // some Output or Loss node depends on it
};

struct GraphAnalysis {
  std::map<NodeId, NodeAnalysis> nodes;
  std::vector<NodeMessage> messages;
  std::vector<NodeId> order;  // topological

  bool has_errors() const;
  std::vector<NodeMessage> messages_for(NodeId id) const;
  const TensorInfo* output(NodeId id, int port) const;
  const TensorInfo* input(NodeId id, int slot) const;
  // Totals over the nodes that reach an output (what a run computes), per sample.
  int64_t total_params() const;
  int64_t total_flops() const;
  int64_t total_activation_bytes() const;
};

GraphAnalysis analyze(const ModelGraph& graph);

// The model summary: one row per node in topological order, and totals.
struct SummaryRow {
  NodeId id = 0;
  std::string name, type;
  std::string output_shape;  // "N×32×14×14"; several outputs joined by ", "; "—" when unknown
  int64_t params = 0, flops = 0, activation_bytes = 0;
};

struct ModelSummary {
  std::vector<SummaryRow> rows;
  int64_t params = 0, flops = 0, activation_bytes = 0;
  // The table as `netloom info` prints it, with a totals line.
  std::string to_text() const;
};

ModelSummary summarize(const ModelGraph& graph, const GraphAnalysis& analysis);

// "1.2 M", "3.4 G" (SI) and "12.5 MiB" (binary), for summaries and the inspector.
std::string human_count(int64_t n);
std::string human_bytes(int64_t bytes);

}  // namespace nl::graph
