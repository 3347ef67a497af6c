// Undo command: move nodes on the canvas. One mouse drag sends many moves with the same
// move id; they merge into one undo step that goes back to where the drag started.
#pragma once
#include <map>

#include "editor/commands/document_command.h"

namespace nl::editor {

class MoveNodesCommand : public DocumentCommand {
 public:
  static constexpr int kCommandId = 0x6e6d;  // QUndoCommand::id() of every move

  MoveNodesCommand(GraphDocument& doc, std::map<graph::NodeId, QPointF> to, int move_id);
  graph::EditResult perform() override;
  int id() const override { return kCommandId; }
  bool mergeWith(const QUndoCommand* other) override;

 protected:
  void revert() override;

 private:
  graph::EditResult place(const std::map<graph::NodeId, QPointF>& positions);

  std::map<graph::NodeId, QPointF> from_, to_;
  int move_id_;
};

}  // namespace nl::editor
