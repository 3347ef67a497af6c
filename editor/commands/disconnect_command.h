// Undo command: remove the edge between an output port and an input port.
#pragma once
#include "editor/commands/document_command.h"

namespace nl::editor {

class DisconnectCommand : public DocumentCommand {
 public:
  DisconnectCommand(GraphDocument& doc, const graph::Edge& edge);
  graph::EditResult perform() override;

 protected:
  void revert() override;

 private:
  graph::Edge edge_;
};

}  // namespace nl::editor
