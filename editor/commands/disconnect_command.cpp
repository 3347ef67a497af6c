// Undo command: disconnect one edge.
#include "editor/commands/disconnect_command.h"

namespace nl::editor {

DisconnectCommand::DisconnectCommand(GraphDocument& doc, const graph::Edge& edge)
    : DocumentCommand(doc, QObject::tr("Disconnect")), edge_(edge) {}

graph::EditResult DisconnectCommand::perform() { return doc_.applyDisconnect(edge_); }

void DisconnectCommand::revert() { doc_.applyConnect(edge_); }

}  // namespace nl::editor
