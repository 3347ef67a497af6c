// Auto-layout for a document, off the UI thread.
#include "editor/layout/auto_layout.h"

#include <QtConcurrent/QtConcurrentRun>

#include "editor/canvas/node_style.h"
#include "editor/groups/node_groups.h"

#include <algorithm>
#include <limits>

namespace nl::editor {

AutoLayout::AutoLayout(GraphDocument& doc, QObject* parent) : QObject(parent), doc_(doc) {
  connect(&watcher_, &QFutureWatcher<LayoutResult>::finished, this, &AutoLayout::apply);
  limit_.setSingleShot(true);
  limit_.setInterval(30000);
  connect(&limit_, &QTimer::timeout, this, [this] {
    dropRun(tr("Auto-layout took longer than %1 s and was stopped; the nodes stay where they are")
                .arg(limit_.interval() / 1000.0));
  });
}

void AutoLayout::cancel() { dropRun(tr("Auto-layout cancelled; the nodes stay where they are")); }

void AutoLayout::dropRun(const QString& why) {
  // The run counts until apply() has taken its result (the worker may have finished already
  // with the result still queued): cancelling then still drops it.
  if (!pending_ || dropped_) return;
  dropped_ = true;
  limit_.stop();
  emit doc_.editRefused(why);
  emit cancelled(why);
}

LayoutInput AutoLayout::snapshot(const GraphDocument& doc, LayoutDirection direction) {
  // Blocks stay together: an expanded block's members form a cluster; a collapsed block is
  // one box (its first member stands for it, carrying the rest: see apply()).
  const graph::ModelGraph& g = doc.graph();
  std::map<std::string, NodeGroup> groups = node_groups(g);
  std::map<graph::NodeId, graph::NodeId> stand_in;  // member of a collapsed block → its box
  for (const auto& [name, group] : groups)
    if (group.collapsed)
      for (graph::NodeId m : group.members) stand_in[m] = group.members.front();
  LayoutInput in;
  in.direction = direction;
  for (const auto& [id, node] : g.nodes()) {
    auto s = stand_in.find(id);
    if (s != stand_in.end()) {
      if (s->second != id) continue;
      GroupBoundary b = group_boundary(g, groups.at(node.ui.group).members);
      double ports = NodeStyle::kPortSpacing * std::max(b.inputs.size(), b.outputs.size()) + 6;
      in.nodes.push_back({id, NodeStyle::kWidth, NodeStyle::kHeader + std::max(3 * NodeStyle::kLine + 8, ports), {}});
      continue;
    }
    QRectF r = NodeLayout::of(doc, id).rect();
    in.nodes.push_back({id, r.width(), r.height(), node.ui.group});
  }
  auto box = [&](graph::NodeId id) {
    auto s = stand_in.find(id);
    return s == stand_in.end() ? id : s->second;
  };
  for (const graph::Edge& e : g.edges())
    if (box(e.from.node) != box(e.to.node)) in.edges.emplace_back(box(e.from.node), box(e.to.node));
  return in;
}

bool AutoLayout::start(LayoutDirection direction) {
  if (pending_) {
    emit doc_.editRefused(dropped_ ? tr("The cancelled layout is still finishing; try again in a moment")
                                   : tr("A layout is already running"));
    return false;
  }
  if (doc_.graph().nodes().empty()) return false;
  dropped_ = false;
  pending_ = true;
  watcher_.setFuture(QtConcurrent::run(compute_layered_layout, snapshot(doc_, direction)));
  limit_.start();
  return true;
}

void AutoLayout::apply() {
  limit_.stop();
  pending_ = false;
  LayoutResult result = watcher_.result();
  if (dropped_) return;  // cancelled: the user was told, nothing moves
  if (!result.error.empty()) {
    emit doc_.editRefused(QString::fromStdString(result.error));
  } else {
    std::map<graph::NodeId, QPointF> to;
    for (const auto& [id, pos] : result.positions)
      if (doc_.graph().find(id)) to[id] = pos;  // removed while the layout ran: skipped
    // A collapsed block was laid out as one box standing for its first member: the box sits
    // at its members' top-left, so every member moves by the box's offset.
    for (const auto& [name, group] : node_groups(doc_.graph())) {
      auto placed = to.find(group.members.front());
      if (!group.collapsed || placed == to.end()) continue;
      QPointF corner(std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
      for (graph::NodeId m : group.members) {
        const graph::NodeUi& ui = doc_.graph().node(m).ui;
        corner = QPointF(std::min(corner.x(), ui.x), std::min(corner.y(), ui.y));
      }
      QPointF offset = placed->second - corner;
      for (graph::NodeId m : group.members) {
        const graph::NodeUi& ui = doc_.graph().node(m).ui;
        to[m] = QPointF(ui.x, ui.y) + offset;
      }
    }
    if (!to.empty()) doc_.moveNodes(to, doc_.newMoveId());
  }
  emit finished(result);
}

}  // namespace nl::editor
