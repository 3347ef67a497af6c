// Undo command: delete nodes and edges as one step.
#include "editor/commands/remove_items_command.h"

#include <algorithm>
#include <set>

namespace nl::editor {

RemoveItemsCommand::RemoveItemsCommand(GraphDocument& doc, std::vector<graph::NodeId> nodes,
                                       std::vector<graph::Edge> edges)
    : DocumentCommand(doc, QObject::tr("Delete")), nodes_(std::move(nodes)), edges_(std::move(edges)) {
  // A selection may name a node twice (or an edge and its node); removing is idempotent.
  std::sort(nodes_.begin(), nodes_.end());
  nodes_.erase(std::unique(nodes_.begin(), nodes_.end()), nodes_.end());
  std::sort(edges_.begin(), edges_.end());
  edges_.erase(std::unique(edges_.begin(), edges_.end()), edges_.end());
}

graph::EditResult RemoveItemsCommand::perform() {
  // Check everything first so a failure changes nothing (Note [Edit requests]).
  const graph::ModelGraph& g = doc_.graph();
  std::set<graph::NodeId> doomed(nodes_.begin(), nodes_.end());
  for (graph::NodeId id : nodes_)
    if (!g.find(id)) return graph::EditResult::failure("no node with id " + std::to_string(id));
  removed_edges_.clear();
  for (const graph::Edge& e : edges_) {
    if (std::find(g.edges().begin(), g.edges().end(), e) == g.edges().end())
      return graph::EditResult::failure("these ports are not connected");
    if (!doomed.count(e.from.node) && !doomed.count(e.to.node)) removed_edges_.push_back(e);
  }
  if (nodes_.empty() && removed_edges_.empty()) return graph::EditResult::failure("nothing is selected");
  for (const graph::Edge& e : removed_edges_) doc_.applyDisconnect(e);
  removed_.clear();
  for (graph::NodeId id : nodes_) removed_.push_back(doc_.applyRemoveNode(id).value);
  return graph::EditResult::success();
}

void RemoveItemsCommand::revert() {
  for (auto it = removed_.rbegin(); it != removed_.rend(); ++it) doc_.applyRestoreNode(*it);
  for (const graph::Edge& e : removed_edges_) doc_.applyConnect(e);
}

}  // namespace nl::editor
