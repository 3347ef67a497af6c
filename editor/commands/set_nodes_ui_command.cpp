// Undo command: new UI data for several nodes in one step.
#include "editor/commands/set_nodes_ui_command.h"

namespace nl::editor {

SetNodesUiCommand::SetNodesUiCommand(GraphDocument& doc, const QString& text,
                                     std::map<graph::NodeId, graph::NodeUi> after)
    : DocumentCommand(doc, text), after_(std::move(after)) {}

graph::EditResult SetNodesUiCommand::perform() {
  if (before_.empty()) {
    if (after_.empty()) return graph::EditResult::failure("no nodes to change");
    for (const auto& [id, ui] : after_) {
      const graph::Node* n = doc_.graph().find(id);
      if (!n) return graph::EditResult::failure("no node with id " + std::to_string(id));
      before_[id] = n->ui;
    }
  }
  apply(after_);
  return graph::EditResult::success();
}

void SetNodesUiCommand::revert() { apply(before_); }

void SetNodesUiCommand::apply(const std::map<graph::NodeId, graph::NodeUi>& uis) {
  for (const auto& [id, ui] : uis) doc_.applySetUi(id, ui);
  doc_.notifyGroupsChanged();
}

}  // namespace nl::editor
