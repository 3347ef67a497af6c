// Undo command: delete a selection — nodes with all their edges, plus selected edges — as
// one step.
#pragma once
#include <vector>

#include "editor/commands/document_command.h"

namespace nl::editor {

class RemoveItemsCommand : public DocumentCommand {
 public:
  RemoveItemsCommand(GraphDocument& doc, std::vector<graph::NodeId> nodes, std::vector<graph::Edge> edges);
  graph::EditResult perform() override;

 protected:
  void revert() override;

 private:
  std::vector<graph::NodeId> nodes_;
  std::vector<graph::Edge> edges_;          // extra edges, as requested
  std::vector<graph::Edge> removed_edges_;  // those of edges_ not attached to a removed node
  std::vector<graph::RemovedNode> removed_;  // in removal order; restored in reverse
};

}  // namespace nl::editor
