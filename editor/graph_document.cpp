// The graph document: requests become undo commands; apply* steps change the graph and
// tell the views.
#include "editor/graph_document.h"

#include <memory>
#include <set>
#include <tuple>

#include "editor/commands/add_node_command.h"
#include "editor/commands/connect_command.h"
#include "editor/commands/disconnect_command.h"
#include "editor/commands/move_nodes_command.h"
#include "editor/commands/paste_command.h"
#include "editor/commands/remove_items_command.h"
#include "editor/commands/rename_command.h"
#include "editor/commands/set_attribute_command.h"
#include "editor/commands/set_nodes_ui_command.h"
#include "editor/groups/node_groups.h"

namespace nl::editor {

using graph::Edge;
using graph::EditResult;
using graph::EditValue;
using graph::NodeId;

namespace {

// Runs a command once and pushes it when the graph accepted it (Note [Document edits]).
EditResult run(GraphDocument& doc, QUndoStack& stack, DocumentCommand* raw) {
  std::unique_ptr<DocumentCommand> cmd(raw);
  EditResult r;
  {
    ChangeScope scope(doc);
    r = cmd->perform();
  }
  if (r) stack.push(cmd.release());
  return r;
}

}  // namespace

GraphDocument::GraphDocument(QObject* parent) : QObject(parent), analysis_(graph::analyze(graph_)) {
  connect(&undo_, &QUndoStack::cleanChanged, this, [this](bool clean) { emit dirtyChanged(!clean); });
}

void GraphDocument::reset(graph::ModelGraph graph) {
  undo_.clear();
  graph_ = std::move(graph);
  analysis_ = graph::analyze(graph_);
  touched_.clear();
  changed_.clear();
  changed_all_ = true;  // a new graph: every view rebuilds
  undo_.setClean();
  emit graphReset();
  emit analysisChanged();
}

EditResult GraphDocument::refuse(const EditResult& r) {
  if (!r) {
    last_error_ = QString::fromStdString(r.error);
    emit editRefused(last_error_);
  }
  return r;
}

EditValue<NodeId> GraphDocument::addNode(const std::string& type, const std::string& name,
                                         const graph::AttrMap& attrs, const graph::NodeUi& ui) {
  auto* cmd = new AddNodeCommand(*this, type, name, attrs, ui);
  EditValue<NodeId> out;
  // The id is read before the push: a pushed command belongs to the stack.
  std::unique_ptr<DocumentCommand> guard(cmd);
  {
    ChangeScope scope(*this);
    static_cast<EditResult&>(out) = cmd->perform();
  }
  if (out) {
    out.value = cmd->nodeId();
    undo_.push(guard.release());
  }
  refuse(out);
  return out;
}

EditResult GraphDocument::removeItems(const std::vector<NodeId>& nodes, const std::vector<Edge>& edges) {
  return refuse(run(*this, undo_, new RemoveItemsCommand(*this, nodes, edges)));
}

EditResult GraphDocument::connectPorts(const Edge& edge) {
  return refuse(run(*this, undo_, new ConnectCommand(*this, edge)));
}

EditResult GraphDocument::disconnectPorts(const Edge& edge) {
  return refuse(run(*this, undo_, new DisconnectCommand(*this, edge)));
}

EditResult GraphDocument::moveNodes(const std::map<NodeId, QPointF>& positions, int move_id) {
  return refuse(run(*this, undo_, new MoveNodesCommand(*this, positions, move_id)));
}

EditResult GraphDocument::setAttribute(NodeId id, const std::string& name, const graph::AttrValue& value) {
  return refuse(run(*this, undo_, new SetAttributeCommand(*this, id, name, value)));
}

EditResult GraphDocument::renameNode(NodeId id, const std::string& name) {
  return refuse(run(*this, undo_, new RenameCommand(*this, id, name)));
}

EditValue<std::vector<NodeId>> GraphDocument::paste(const nlohmann::json& snippet, double dx, double dy) {
  EditValue<std::vector<NodeId>> out;
  graph::PastePlan plan;
  try {
    plan = graph::plan_paste(graph_, snippet, dx, dy);
  } catch (const std::exception& e) {  // not a snippet, unknown layer type …
    static_cast<EditResult&>(out) = EditResult::failure(std::string("cannot paste: ") + e.what());
    refuse(out);
    return out;
  }
  keepPastedBlocksApart(plan);
  auto* cmd = new PasteCommand(*this, std::move(plan));
  std::unique_ptr<DocumentCommand> guard(cmd);
  {
    ChangeScope scope(*this);
    static_cast<EditResult&>(out) = cmd->perform();
  }
  if (out) {
    out.value = cmd->ids();
    undo_.push(guard.release());
  }
  refuse(out);
  return out;
}

void GraphDocument::keepPastedBlocksApart(graph::PastePlan& plan) const {
  // A pasted block is a new block: it must not merge into the block it was copied from, so a
  // name already used here gets a fresh one. A lone node copied out of a block leaves it.
  std::map<std::string, int> counts;
  for (const graph::Node& n : plan.nodes)
    if (!n.ui.group.empty()) ++counts[n.ui.group];
  std::map<std::string, std::string> renamed;
  std::set<std::string> taken;
  for (const auto& [id, node] : graph_.nodes()) taken.insert(node.ui.group);
  for (const auto& [name, count] : counts) {
    if (count < 2) {
      renamed[name] = "";
      continue;
    }
    std::string fresh = name;
    for (int i = 2; taken.count(fresh); ++i) fresh = name + " (" + std::to_string(i) + ")";
    taken.insert(fresh);
    renamed[name] = fresh;
  }
  for (graph::Node& n : plan.nodes) {
    if (n.ui.group.empty()) continue;
    n.ui.group = renamed.at(n.ui.group);
    if (n.ui.group.empty()) n.ui.collapsed = false;
  }
}

EditResult GraphDocument::groupNodes(const std::vector<NodeId>& ids, const std::string& name) {
  if (ids.empty()) return refuse(EditResult::failure("select the layers to group into a block"));
  if (name.empty()) return refuse(EditResult::failure("a block needs a name"));
  std::set<NodeId> chosen(ids.begin(), ids.end());
  if (std::optional<NodeGroup> existing = node_group(graph_, name))
    for (NodeId member : existing->members)
      if (!chosen.count(member)) return refuse(EditResult::failure("a block named '" + name + "' already exists"));
  std::map<NodeId, graph::NodeUi> after;
  for (NodeId id : chosen) {
    const graph::Node* n = graph_.find(id);
    if (!n) return refuse(EditResult::failure("no node with id " + std::to_string(id)));
    graph::NodeUi ui = n->ui;
    ui.group = name;
    ui.collapsed = false;
    after[id] = ui;
  }
  return refuse(run(*this, undo_, new SetNodesUiCommand(*this, tr("Group into Block"), std::move(after))));
}

EditResult GraphDocument::ungroup(const std::string& name) {
  std::optional<NodeGroup> group = node_group(graph_, name);
  if (!group) return refuse(EditResult::failure("no block named '" + name + "'"));
  std::map<NodeId, graph::NodeUi> after;
  for (NodeId id : group->members) {
    graph::NodeUi ui = graph_.node(id).ui;
    ui.group.clear();
    ui.collapsed = false;
    after[id] = ui;
  }
  return refuse(run(*this, undo_, new SetNodesUiCommand(*this, tr("Ungroup Block"), std::move(after))));
}

EditResult GraphDocument::setGroupCollapsed(const std::string& name, bool collapsed) {
  std::optional<NodeGroup> group = node_group(graph_, name);
  if (!group) return refuse(EditResult::failure("no block named '" + name + "'"));
  if (group->collapsed == collapsed)
    return refuse(EditResult::failure("block '" + name + "' is already " + (collapsed ? "collapsed" : "expanded")));
  std::map<NodeId, graph::NodeUi> after;
  for (NodeId id : group->members) {
    graph::NodeUi ui = graph_.node(id).ui;
    ui.collapsed = collapsed;
    after[id] = ui;
  }
  return refuse(run(*this, undo_,
                    new SetNodesUiCommand(*this, collapsed ? tr("Collapse Block") : tr("Expand Block"), std::move(after))));
}

EditResult GraphDocument::renameGroup(const std::string& from, const std::string& to) {
  std::optional<NodeGroup> group = node_group(graph_, from);
  if (!group) return refuse(EditResult::failure("no block named '" + from + "'"));
  if (to.empty()) return refuse(EditResult::failure("a block needs a name"));
  if (to == from) return refuse(EditResult::failure("the block is already called '" + to + "'"));
  if (node_group(graph_, to)) return refuse(EditResult::failure("a block named '" + to + "' already exists"));
  std::map<NodeId, graph::NodeUi> after;
  for (NodeId id : group->members) {
    graph::NodeUi ui = graph_.node(id).ui;
    ui.group = to;
    after[id] = ui;
  }
  return refuse(run(*this, undo_, new SetNodesUiCommand(*this, tr("Rename Block"), std::move(after))));
}

EditResult GraphDocument::setNodesFolded(const std::vector<NodeId>& ids, bool folded) {
  std::map<NodeId, graph::NodeUi> after;
  for (NodeId id : ids) {
    const graph::Node* n = graph_.find(id);
    if (!n) return refuse(EditResult::failure("no node with id " + std::to_string(id)));
    if (!n->ui.group.empty() || n->ui.collapsed == folded) continue;  // blocks fold as a whole
    graph::NodeUi ui = n->ui;
    ui.collapsed = folded;
    after[id] = ui;
  }
  if (after.empty()) return refuse(EditResult::failure(folded ? "nothing to fold" : "nothing to unfold"));
  return refuse(run(*this, undo_, new SetNodesUiCommand(*this, folded ? tr("Fold Layers") : tr("Unfold Layers"),
                                                        std::move(after))));
}

EditResult GraphDocument::canConnect(const Edge& edge) {
  // connect() is the one place that knows every rule; trying it and taking the edge back
  // (the edge list is restored exactly: the edge was appended last) answers without copying.
  EditResult r = graph_.connect(edge);
  if (r) graph_.disconnect(edge);
  return r;
}

// --- Steps ---------------------------------------------------------------------------------

EditValue<NodeId> GraphDocument::applyAddNode(const std::string& type, const std::string& name,
                                              const graph::AttrMap& attrs, const graph::NodeUi& ui) {
  auto r = graph_.add_node(type, name, attrs, ui);
  if (r) analysis_stale_ = true;
  if (r) touched_.insert(r.value);
  if (r) emit nodeAdded(r.value);
  return r;
}

EditResult GraphDocument::applyInsertNode(const graph::Node& node) {
  EditResult r = graph_.insert_node(node);
  if (r) analysis_stale_ = true;
  if (r) touched_.insert(node.id);
  if (r) emit nodeAdded(node.id);
  return r;
}

EditValue<graph::RemovedNode> GraphDocument::applyRemoveNode(NodeId id) {
  auto r = graph_.remove_node(id);
  if (r) analysis_stale_ = true;
  if (r) {
    for (const Edge& e : r.value.edges) touched_.insert({e.from.node, e.to.node});
    for (const Edge& e : r.value.edges) emit edgeRemoved(e);
    emit nodeRemoved(id);
  }
  return r;
}

EditResult GraphDocument::applyRestoreNode(const graph::RemovedNode& removed) {
  EditResult r = graph_.restore_node(removed);
  if (r) analysis_stale_ = true;
  if (r) {
    touched_.insert(removed.node.id);
    for (const Edge& e : removed.edges) touched_.insert({e.from.node, e.to.node});
    emit nodeAdded(removed.node.id);
    for (const Edge& e : removed.edges) emit edgeAdded(e);
  }
  return r;
}

EditResult GraphDocument::applyConnect(const Edge& edge) {
  EditResult r = graph_.connect(edge);
  if (r) analysis_stale_ = true;
  if (r) touched_.insert({edge.from.node, edge.to.node});
  if (r) emit edgeAdded(edge);
  return r;
}

EditResult GraphDocument::applyDisconnect(const Edge& edge) {
  EditResult r = graph_.disconnect(edge);
  if (r) analysis_stale_ = true;
  if (r) touched_.insert({edge.from.node, edge.to.node});
  if (r) emit edgeRemoved(edge);
  return r;
}

EditResult GraphDocument::applySetAttribute(NodeId id, const std::string& name,
                                            const std::optional<graph::AttrValue>& value) {
  EditResult r = value ? graph_.set_attribute(id, name, *value) : graph_.reset_attribute(id, name);
  if (r) analysis_stale_ = true;
  if (r) touched_.insert(id);
  if (r) emit nodeChanged(id);
  return r;
}

EditResult GraphDocument::applyRename(NodeId id, const std::string& name) {
  EditResult r = graph_.rename(id, name);
  if (r) analysis_stale_ = true;
  if (r) touched_.insert(id);
  if (r) emit nodeChanged(id);
  return r;
}

EditResult GraphDocument::applySetUi(NodeId id, const graph::NodeUi& ui) {
  EditResult r = graph_.set_ui(id, ui);
  if (r) emit nodeChanged(id);
  return r;
}

void GraphDocument::endChange() {
  // Moves alone leave every shape as it was: no analysis while dragging.
  if (--change_depth_ == 0 && analysis_stale_) reanalyze();
}

namespace {

// What a node's item and its edges show of the analysis: inferred tensors, cost, messages.
bool same_for_views(const graph::NodeAnalysis& a, const graph::NodeAnalysis& b) {
  return a.inputs == b.inputs && a.outputs == b.outputs && a.cost.params == b.cost.params &&
         a.cost.flops == b.cost.flops && a.activation_bytes == b.activation_bytes && a.inferred == b.inferred &&
         a.reaches_output == b.reaches_output;
}

using MessageKey = std::tuple<int, std::string, int>;  // severity, text, input port
std::map<NodeId, std::vector<MessageKey>> messages_by_node(const graph::GraphAnalysis& a) {
  std::map<NodeId, std::vector<MessageKey>> out;
  for (const graph::NodeMessage& m : a.messages)
    out[m.node].emplace_back(static_cast<int>(m.severity), m.text, m.input_port);
  return out;
}

}  // namespace

void GraphDocument::reanalyze() {
  analysis_stale_ = false;
  graph::GraphAnalysis next = graph::analyze(graph_);
  // Note [Changed nodes]: views refresh only the nodes whose analysis or ports changed (and
  // the edges touching them); on a 2,000-node graph refreshing every item took most of an
  // edit's time. An edit elsewhere can change a node's shapes or messages downstream, which
  // the comparison catches.
  changed_ = std::move(touched_);
  touched_.clear();
  auto old_messages = messages_by_node(analysis_), new_messages = messages_by_node(next);
  for (const auto& [id, na] : next.nodes) {
    auto old = analysis_.nodes.find(id);
    if (old == analysis_.nodes.end() || !same_for_views(old->second, na)) changed_.insert(id);
  }
  for (const auto* side : {&old_messages, &new_messages})
    for (const auto& [id, list] : *side) {
      auto o = old_messages.find(id), n = new_messages.find(id);
      bool same = o != old_messages.end() && n != new_messages.end() && o->second == n->second;
      if (!same && id != 0) changed_.insert(id);
    }
  changed_all_ = false;
  analysis_ = std::move(next);
  emit analysisChanged();
}

}  // namespace nl::editor
