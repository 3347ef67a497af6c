// The graph document: the model graph the editor shows, its undo stack and its latest
// analysis. Views never change the graph themselves: they ask the document for an edit (one
// undoable command each) and follow its signals.
//
//   GraphDocument doc;
//   auto added = doc.addNode("Linear", "fc1", {{"out_features", int64_t{16}}});
//   if (!doc.connectPorts({{input_id, 0}, {added.value, 0}})) status(doc.lastError());
//   doc.undoStack()->undo();                        // the edge goes again
//
// Note [Document edits]: a request (addNode, connectPorts …) builds a command and runs it
// once. When the graph refuses (Note [Edit requests] in model_graph.h) nothing changed, the
// command is dropped instead of pushed, and editRefused carries the reason for the status
// bar. Commands apply their steps through the apply* functions, which change the graph,
// emit the fine-grained signals the scene follows, and re-run the analysis once the whole
// command is done (analysisChanged), so a command removing ten nodes analyses once.
#pragma once
#include <QObject>
#include <QPointF>
#include <QString>
#include <QUndoStack>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/graph/graph_analysis.h"
#include "engine/graph/graph_json.h"
#include "engine/graph/model_graph.h"

namespace nl::editor {

class GraphDocument : public QObject {
  Q_OBJECT

 public:
  explicit GraphDocument(QObject* parent = nullptr);

  const graph::ModelGraph& graph() const { return graph_; }
  const graph::GraphAnalysis& analysis() const { return analysis_; }
  QUndoStack* undoStack() { return &undo_; }
  // Unsaved changes: the undo stack is away from the state last marked clean.
  bool isDirty() const { return !undo_.isClean(); }
  void markClean() { undo_.setClean(); }
  // Replaces the whole graph (open a file, new project): no undo history, clean.
  void reset(graph::ModelGraph graph);
  // The nodes whose analysis, messages or ports changed in the last analysis (Note [Changed
  // nodes] in graph_document.cpp); after reset() every node counts as changed.
  const std::set<graph::NodeId>& changedNodes() const { return changed_; }
  bool changedAll() const { return changed_all_; }
  // The reason of the last refused request, for tests and the status bar.
  const QString& lastError() const { return last_error_; }

  // --- Requests: each is one undo step or, when refused, nothing (Note [Document edits]) ---
  graph::EditValue<graph::NodeId> addNode(const std::string& type, const std::string& name = {},
                                          const graph::AttrMap& attrs = {}, const graph::NodeUi& ui = {});
  // Removes the nodes with all their edges, and the extra edges given (a selection).
  graph::EditResult removeItems(const std::vector<graph::NodeId>& nodes, const std::vector<graph::Edge>& edges = {});
  graph::EditResult connectPorts(const graph::Edge& edge);
  graph::EditResult disconnectPorts(const graph::Edge& edge);
  // Moves nodes to new positions; requests with the same move id (one mouse drag) merge
  // into one undo step.
  graph::EditResult moveNodes(const std::map<graph::NodeId, QPointF>& positions, int move_id);
  graph::EditResult setAttribute(graph::NodeId id, const std::string& name, const graph::AttrValue& value);
  graph::EditResult renameNode(graph::NodeId id, const std::string& name);
  // Pastes a snippet (graph_json.h), shifted by the offset; the value is the new ids.
  graph::EditValue<std::vector<graph::NodeId>> paste(const nlohmann::json& snippet, double dx = 0, double dy = 0);

  // Blocks of nodes (Note [Blocks in the model graph] in groups/node_groups.h). Grouping
  // takes nodes out of any block they were in; a block name belongs to one block.
  graph::EditResult groupNodes(const std::vector<graph::NodeId>& ids, const std::string& name);
  graph::EditResult ungroup(const std::string& name);
  graph::EditResult setGroupCollapsed(const std::string& name, bool collapsed);
  graph::EditResult renameGroup(const std::string& from, const std::string& to);
  // Folds nodes outside blocks to their header, or unfolds them (one undo step).
  graph::EditResult setNodesFolded(const std::vector<graph::NodeId>& ids, bool folded);

  // Would connect() accept this edge? Same answer, nothing changed, no signals.
  graph::EditResult canConnect(const graph::Edge& edge);
  // A fresh id for a group of moveNodes requests (one drag).
  int newMoveId() { return ++last_move_id_; }

  // --- Steps for commands only: change the graph and emit signals (Note [Document edits]) ---
  graph::EditValue<graph::NodeId> applyAddNode(const std::string& type, const std::string& name,
                                               const graph::AttrMap& attrs, const graph::NodeUi& ui);
  graph::EditResult applyInsertNode(const graph::Node& node);
  graph::EditValue<graph::RemovedNode> applyRemoveNode(graph::NodeId id);
  graph::EditResult applyRestoreNode(const graph::RemovedNode& removed);
  graph::EditResult applyConnect(const graph::Edge& edge);
  graph::EditResult applyDisconnect(const graph::Edge& edge);
  // nullopt resets the attribute to the schema default (it is no longer set on the node).
  graph::EditResult applySetAttribute(graph::NodeId id, const std::string& name,
                                      const std::optional<graph::AttrValue>& value);
  graph::EditResult applyRename(graph::NodeId id, const std::string& name);
  graph::EditResult applySetUi(graph::NodeId id, const graph::NodeUi& ui);
  // A command changed block membership or collapsed state: views re-read the blocks.
  void notifyGroupsChanged() { emit groupsChanged(); }
  // Brackets a command's steps so the analysis runs once at the end.
  void beginChange() { ++change_depth_; }
  void endChange();

 signals:
  void nodeAdded(nl::graph::NodeId id);
  void nodeRemoved(nl::graph::NodeId id);
  void edgeAdded(const nl::graph::Edge& edge);
  void edgeRemoved(const nl::graph::Edge& edge);
  // Name, attributes or UI data (position …) of the node changed.
  void nodeChanged(nl::graph::NodeId id);
  void analysisChanged();
  // The whole graph was replaced: views rebuild.
  void graphReset();
  void groupsChanged();
  void editRefused(const QString& reason);
  void dirtyChanged(bool dirty);

 private:
  graph::EditResult refuse(const graph::EditResult& r);
  void keepPastedBlocksApart(graph::PastePlan& plan) const;
  void reanalyze();

  graph::ModelGraph graph_;
  graph::GraphAnalysis analysis_;
  QUndoStack undo_;
  QString last_error_;
  int change_depth_ = 0;
  bool analysis_stale_ = false;  // a step since the last analysis changed more than positions
  std::set<graph::NodeId> touched_;  // nodes whose ports or edges steps changed since then
  std::set<graph::NodeId> changed_;
  bool changed_all_ = true;
  int last_move_id_ = 0;
};

// Opens a change bracket for the scope of a command's step (exception-safe endChange).
class ChangeScope {
 public:
  explicit ChangeScope(GraphDocument& doc) : doc_(doc) { doc_.beginChange(); }
  ~ChangeScope() { doc_.endChange(); }
  ChangeScope(const ChangeScope&) = delete;
  ChangeScope& operator=(const ChangeScope&) = delete;

 private:
  GraphDocument& doc_;
};

}  // namespace nl::editor
