// Undo command: move nodes, merged while dragging.
#include "editor/commands/move_nodes_command.h"

namespace nl::editor {

MoveNodesCommand::MoveNodesCommand(GraphDocument& doc, std::map<graph::NodeId, QPointF> to, int move_id)
    : DocumentCommand(doc, QObject::tr("Move")), to_(std::move(to)), move_id_(move_id) {}

graph::EditResult MoveNodesCommand::perform() {
  if (from_.empty()) {
    if (to_.empty()) return graph::EditResult::failure("nothing to move");
    for (const auto& [id, pos] : to_) {
      const graph::Node* n = doc_.graph().find(id);
      if (!n) return graph::EditResult::failure("no node with id " + std::to_string(id));
      from_[id] = QPointF(n->ui.x, n->ui.y);
    }
  }
  return place(to_);
}

void MoveNodesCommand::revert() { place(from_); }

graph::EditResult MoveNodesCommand::place(const std::map<graph::NodeId, QPointF>& positions) {
  for (const auto& [id, pos] : positions) {
    graph::NodeUi ui = doc_.graph().node(id).ui;
    ui.x = pos.x();
    ui.y = pos.y();
    doc_.applySetUi(id, ui);
  }
  return graph::EditResult::success();
}

bool MoveNodesCommand::mergeWith(const QUndoCommand* other) {
  auto* move = dynamic_cast<const MoveNodesCommand*>(other);
  if (!move || move->move_id_ != move_id_) return false;
  // The later move's targets win; its starting points are our intermediate positions, except
  // for nodes we did not move yet, whose start is the later command's.
  for (const auto& [id, pos] : move->to_) {
    if (!from_.count(id)) from_[id] = move->from_.at(id);
    to_[id] = pos;
  }
  return true;
}

}  // namespace nl::editor
