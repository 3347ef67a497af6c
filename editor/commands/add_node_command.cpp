// Undo command: add one node.
#include "editor/commands/add_node_command.h"

namespace nl::editor {

AddNodeCommand::AddNodeCommand(GraphDocument& doc, std::string type, std::string name, graph::AttrMap attrs,
                               graph::NodeUi ui)
    : DocumentCommand(doc, QObject::tr("Add %1").arg(QString::fromStdString(type))),
      type_(std::move(type)),
      name_(std::move(name)),
      attrs_(std::move(attrs)),
      ui_(std::move(ui)) {}

graph::EditResult AddNodeCommand::perform() {
  if (node_) return doc_.applyInsertNode(*node_);
  auto added = doc_.applyAddNode(type_, name_, attrs_, ui_);
  if (added) node_ = doc_.graph().node(added.value);
  return added;
}

void AddNodeCommand::revert() { doc_.applyRemoveNode(node_->id); }

}  // namespace nl::editor
