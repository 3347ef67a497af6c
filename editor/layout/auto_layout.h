// Auto-layout for a document: snapshots node sizes and edges on the UI thread, computes the
// layered layout on a worker thread (QtConcurrent), and applies the result as one undoable
// move. A huge graph costs the user nothing but the wait for the nodes to move; a second
// request while one runs is refused, and edits made meanwhile are kept (nodes removed in
// the meantime are skipped; new ones stay where they are).
#pragma once
#include <QFutureWatcher>
#include <QObject>

#include "editor/graph_document.h"
#include "editor/layout/layered_layout.h"

namespace nl::editor {

class AutoLayout : public QObject {
  Q_OBJECT

 public:
  explicit AutoLayout(GraphDocument& doc, QObject* parent = nullptr);
  bool isRunning() const { return watcher_.isRunning(); }
  // The input the worker gets: a plain copy, never the live graph.
  static LayoutInput snapshot(const GraphDocument& doc, LayoutDirection direction);

 public slots:
  // Starts a layout; false when one is already running or the graph is empty.
  bool start(LayoutDirection direction);

 signals:
  // The layout was applied (or failed with `error`); `result` is what the worker computed.
  void finished(const nl::editor::LayoutResult& result);

 private:
  void apply();

  GraphDocument& doc_;
  QFutureWatcher<LayoutResult> watcher_;
};

}  // namespace nl::editor
