// The problems dock's content: every message of the document's analysis (errors first),
// with severity, node name and text. Activating one names its node so the main window can
// select and centre it.
#pragma once
#include <QWidget>

#include "editor/graph_document.h"

class QTreeWidget;

namespace nl::editor {

class ProblemsWidget : public QWidget {
  Q_OBJECT

 public:
  explicit ProblemsWidget(GraphDocument& doc, QWidget* parent = nullptr);
  QTreeWidget* list() const { return list_; }
  int errorCount() const { return errors_; }
  int warningCount() const { return warnings_; }

 signals:
  void nodeActivated(nl::graph::NodeId id);
  // Counts changed: the main window puts them in the dock's title.
  void countsChanged(int errors, int warnings);

 private:
  void refresh();

  GraphDocument& doc_;
  QTreeWidget* list_;
  int errors_ = 0, warnings_ = 0;
};

}  // namespace nl::editor
