// Undo command: connect an output port to an input port.
#pragma once
#include "editor/commands/document_command.h"

namespace nl::editor {

class ConnectCommand : public DocumentCommand {
 public:
  ConnectCommand(GraphDocument& doc, const graph::Edge& edge);
  graph::EditResult perform() override;

 protected:
  void revert() override;

 private:
  graph::Edge edge_;
};

}  // namespace nl::editor
