// Undo command: change one attribute of a node (inspector edits). Undo restores the exact
// previous state: the old value, or "not set" when the node used the schema default.
#pragma once
#include <optional>

#include "editor/commands/document_command.h"

namespace nl::editor {

class SetAttributeCommand : public DocumentCommand {
 public:
  SetAttributeCommand(GraphDocument& doc, graph::NodeId id, std::string name, graph::AttrValue value);
  graph::EditResult perform() override;

 protected:
  void revert() override;

 private:
  graph::NodeId id_;
  std::string name_;
  graph::AttrValue value_;
  std::optional<graph::AttrValue> old_;  // nullopt: the node did not set it
};

}  // namespace nl::editor
