// Undo command: add one node (palette drop, search-to-add).
#pragma once
#include <optional>

#include "editor/commands/document_command.h"

namespace nl::editor {

class AddNodeCommand : public DocumentCommand {
 public:
  AddNodeCommand(GraphDocument& doc, std::string type, std::string name, graph::AttrMap attrs, graph::NodeUi ui);
  graph::EditResult perform() override;
  graph::NodeId nodeId() const { return node_ ? node_->id : 0; }

 protected:
  void revert() override;

 private:
  std::string type_, name_;
  graph::AttrMap attrs_;
  graph::NodeUi ui_;
  std::optional<graph::Node> node_;  // as first added: redo puts back the same id and name
};

}  // namespace nl::editor
