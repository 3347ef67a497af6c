// Auto-layout for a document, off the UI thread.
#include "editor/layout/auto_layout.h"

#include <QtConcurrent/QtConcurrentRun>

#include "editor/canvas/node_style.h"

namespace nl::editor {

AutoLayout::AutoLayout(GraphDocument& doc, QObject* parent) : QObject(parent), doc_(doc) {
  connect(&watcher_, &QFutureWatcher<LayoutResult>::finished, this, &AutoLayout::apply);
}

LayoutInput AutoLayout::snapshot(const GraphDocument& doc, LayoutDirection direction) {
  LayoutInput in;
  in.direction = direction;
  for (const auto& [id, node] : doc.graph().nodes()) {
    QRectF r = NodeLayout::of(doc, id).rect();
    in.nodes.push_back({id, r.width(), r.height()});
  }
  for (const graph::Edge& e : doc.graph().edges()) in.edges.emplace_back(e.from.node, e.to.node);
  return in;
}

bool AutoLayout::start(LayoutDirection direction) {
  if (watcher_.isRunning() || doc_.graph().nodes().empty()) return false;
  watcher_.setFuture(QtConcurrent::run(compute_layered_layout, snapshot(doc_, direction)));
  return true;
}

void AutoLayout::apply() {
  LayoutResult result = watcher_.result();
  if (!result.error.empty()) {
    emit doc_.editRefused(QString::fromStdString(result.error));
  } else {
    std::map<graph::NodeId, QPointF> to;
    for (const auto& [id, pos] : result.positions)
      if (doc_.graph().find(id)) to[id] = pos;  // removed while the layout ran: skipped
    if (!to.empty()) doc_.moveNodes(to, doc_.newMoveId());
  }
  emit finished(result);
}

}  // namespace nl::editor
