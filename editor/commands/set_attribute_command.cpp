// Undo command: change one attribute.
#include "editor/commands/set_attribute_command.h"

namespace nl::editor {

SetAttributeCommand::SetAttributeCommand(GraphDocument& doc, graph::NodeId id, std::string name,
                                         graph::AttrValue value)
    : DocumentCommand(doc, QObject::tr("Set %1").arg(QString::fromStdString(name))),
      id_(id),
      name_(std::move(name)),
      value_(std::move(value)) {}

graph::EditResult SetAttributeCommand::perform() {
  const graph::Node* n = doc_.graph().find(id_);
  if (!n) return graph::EditResult::failure("no node with id " + std::to_string(id_));
  auto it = n->attrs.find(name_);
  std::optional<graph::AttrValue> old = it == n->attrs.end() ? std::nullopt : std::optional(it->second);
  graph::EditResult r = doc_.applySetAttribute(id_, name_, value_);
  if (r) old_ = std::move(old);
  return r;
}

void SetAttributeCommand::revert() { doc_.applySetAttribute(id_, name_, old_); }

}  // namespace nl::editor
