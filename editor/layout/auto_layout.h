// Auto-layout for a document: snapshots node sizes and edges on the UI thread, computes the
// layered layout on a worker thread (QtConcurrent), and applies the result as one undoable
// move. A huge graph costs the user nothing but the wait for the nodes to move; a second
// request while one runs is refused, and edits made meanwhile are kept (nodes removed in
// the meantime are skipped; new ones stay where they are). Blocks of nodes stay together
// (Note [Blocks in the model graph]). A layout can be cancelled, and one that runs past its
// time limit is: graphviz cannot be interrupted, so its result is dropped when it arrives and
// the nodes stay where they were (Netron's habit for big graphs).
#pragma once
#include <QFutureWatcher>
#include <QObject>
#include <QTimer>

#include "editor/graph_document.h"
#include "editor/layout/layered_layout.h"

namespace nl::editor {

class AutoLayout : public QObject {
  Q_OBJECT

 public:
  explicit AutoLayout(GraphDocument& doc, QObject* parent = nullptr);
  bool isRunning() const { return pending_; }
  // Longest wait for a layout before it is cancelled (default 30 s).
  void setTimeLimit(int ms) { limit_.setInterval(ms); }
  // The input the worker gets: a plain copy, never the live graph.
  static LayoutInput snapshot(const GraphDocument& doc, LayoutDirection direction);

 public slots:
  // Starts a layout; false when one is already running or the graph is empty.
  bool start(LayoutDirection direction);
  // Drops the running layout's result; says so through the document's status message.
  void cancel();

 signals:
  // The layout was applied (or failed with `error`); `result` is what the worker computed.
  void finished(const nl::editor::LayoutResult& result);
  // The running layout was cancelled (by cancel() or the time limit); nothing moved.
  void cancelled(const QString& why);

 private:
  void apply();

  void dropRun(const QString& why);

  GraphDocument& doc_;
  QFutureWatcher<LayoutResult> watcher_;
  QTimer limit_;
  bool pending_ = false;  // started, result not yet taken by apply()
  bool dropped_ = false;  // the running layout was cancelled: ignore its result
};

}  // namespace nl::editor
