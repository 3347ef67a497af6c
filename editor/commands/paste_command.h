// Undo command: paste a snippet (graph_json.h) — its nodes with fresh ids and unique names,
// and the edges between them — as one step.
#pragma once
#include <vector>

#include "editor/commands/document_command.h"
#include "engine/graph/graph_json.h"

namespace nl::editor {

class PasteCommand : public DocumentCommand {
 public:
  // `plan` comes from plan_paste against the document's graph.
  PasteCommand(GraphDocument& doc, graph::PastePlan plan);
  graph::EditResult perform() override;
  std::vector<graph::NodeId> ids() const;

 protected:
  void revert() override;

 private:
  graph::PastePlan plan_;
};

}  // namespace nl::editor
