// Undo command: rename a node.
#include "editor/commands/rename_command.h"

namespace nl::editor {

RenameCommand::RenameCommand(GraphDocument& doc, graph::NodeId id, std::string name)
    : DocumentCommand(doc, QObject::tr("Rename")), id_(id), name_(std::move(name)) {}

graph::EditResult RenameCommand::perform() {
  const graph::Node* n = doc_.graph().find(id_);
  if (!n) return graph::EditResult::failure("no node with id " + std::to_string(id_));
  std::string old = n->name;
  graph::EditResult r = doc_.applyRename(id_, name_);
  if (r) old_name_ = std::move(old);
  return r;
}

void RenameCommand::revert() { doc_.applyRename(id_, old_name_); }

}  // namespace nl::editor
