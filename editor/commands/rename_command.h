// Undo command: rename a node.
#pragma once
#include "editor/commands/document_command.h"

namespace nl::editor {

class RenameCommand : public DocumentCommand {
 public:
  RenameCommand(GraphDocument& doc, graph::NodeId id, std::string name);
  graph::EditResult perform() override;

 protected:
  void revert() override;

 private:
  graph::NodeId id_;
  std::string name_, old_name_;
};

}  // namespace nl::editor
