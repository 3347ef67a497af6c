// Undo command: give several nodes new UI data at once (group into a block, ungroup,
// collapse or expand a block, rename a block). One undo step restores every node's exact
// previous UI data.
#pragma once
#include <map>

#include "editor/commands/document_command.h"

namespace nl::editor {

class SetNodesUiCommand : public DocumentCommand {
 public:
  SetNodesUiCommand(GraphDocument& doc, const QString& text, std::map<graph::NodeId, graph::NodeUi> after);
  graph::EditResult perform() override;

 protected:
  void revert() override;

 private:
  void apply(const std::map<graph::NodeId, graph::NodeUi>& uis);

  std::map<graph::NodeId, graph::NodeUi> before_, after_;
};

}  // namespace nl::editor
