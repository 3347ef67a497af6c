// Undo command: connect one edge.
#include "editor/commands/connect_command.h"

namespace nl::editor {

ConnectCommand::ConnectCommand(GraphDocument& doc, const graph::Edge& edge)
    : DocumentCommand(doc, QObject::tr("Connect")), edge_(edge) {}

graph::EditResult ConnectCommand::perform() { return doc_.applyConnect(edge_); }

void ConnectCommand::revert() { doc_.applyDisconnect(edge_); }

}  // namespace nl::editor
