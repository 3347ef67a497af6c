// The model summary dock's content: one row per node (name, type, output shape, parameters,
// FLOPs and activation memory per sample) and a totals line, rebuilt whenever the document's
// analysis changes. Activating a row names its node, so the canvas can show it.
#pragma once
#include <QWidget>

#include "editor/graph_document.h"

class QLabel;
class QTableWidget;

namespace nl::editor {

class SummaryWidget : public QWidget {
  Q_OBJECT

 public:
  explicit SummaryWidget(GraphDocument& doc, QWidget* parent = nullptr);
  QTableWidget* table() const { return table_; }
  QString totalsText() const;

 signals:
  void nodeActivated(nl::graph::NodeId id);

 private:
  void refresh();

  GraphDocument& doc_;
  QTableWidget* table_;
  QLabel* totals_;
};

}  // namespace nl::editor
