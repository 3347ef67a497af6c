// Undo command: paste a snippet.
#include "editor/commands/paste_command.h"

namespace nl::editor {

PasteCommand::PasteCommand(GraphDocument& doc, graph::PastePlan plan)
    : DocumentCommand(doc, QObject::tr("Paste")), plan_(std::move(plan)) {}

std::vector<graph::NodeId> PasteCommand::ids() const {
  std::vector<graph::NodeId> ids;
  for (const graph::Node& n : plan_.nodes) ids.push_back(n.id);
  return ids;
}

graph::EditResult PasteCommand::perform() {
  if (plan_.nodes.empty()) return graph::EditResult::failure("the clipboard holds no layers");
  // All or nothing: on a failure, take back what was added (edges go with their nodes).
  size_t inserted = 0;
  graph::EditResult r;
  for (; inserted < plan_.nodes.size(); ++inserted)
    if (!(r = doc_.applyInsertNode(plan_.nodes[inserted]))) break;
  if (r)
    for (const graph::Edge& e : plan_.edges)
      if (!(r = doc_.applyConnect(e))) break;
  if (!r)
    while (inserted > 0) doc_.applyRemoveNode(plan_.nodes[--inserted].id);
  return r;
}

void PasteCommand::revert() {
  for (auto it = plan_.nodes.rbegin(); it != plan_.nodes.rend(); ++it) doc_.applyRemoveNode(it->id);
}

}  // namespace nl::editor
