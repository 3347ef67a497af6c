// The inspector dock's content: a form generated from the selected node's layer schema
// (one editor per attribute, with the schema's ranges, choices and help), the node's name,
// and what the analysis says about it (output shapes, parameters, FLOPs, messages). Every
// change is one document request; a refused one shows the reason and the field reverts.
#pragma once
#include <QWidget>
#include <vector>

#include "editor/graph_document.h"

class QLabel;
class QLineEdit;
class QScrollArea;

namespace nl::editor {

class InspectorWidget : public QWidget {
  Q_OBJECT

 public:
  explicit InspectorWidget(GraphDocument& doc, QWidget* parent = nullptr);

  graph::NodeId node() const { return node_; }
  // The editor of an attribute (QSpinBox, RealSpinBox, QCheckBox, QComboBox or QLineEdit),
  // null when no node is shown or it has no such attribute.
  QWidget* editor(const QString& attr) const;
  QLineEdit* nameEdit() const { return name_; }
  // Why the last change was refused; empty after a change that went through.
  QString refusal() const;
  // The analysis lines: "Output: N×32", "Parameters: 1.2 K" … as shown.
  QString analysisText() const;
  QString messagesText() const;

 public slots:
  // Shows a node's form; 0 (or an id not in the graph) shows the empty hint.
  void showNode(nl::graph::NodeId id);

 private:
  struct Field {
    graph::AttrSpec spec;
    QWidget* editor = nullptr;
  };

  void rebuild();
  void refresh();
  void commitAttribute(const graph::AttrSpec& spec, const graph::AttrValue& value);
  void commitText(const graph::AttrSpec& spec, QLineEdit* edit);
  void commitName();
  void showRefusal(const QString& reason);
  QWidget* makeEditor(const graph::AttrSpec& spec);

  GraphDocument& doc_;
  graph::NodeId node_ = 0;
  QScrollArea* scroll_;
  std::vector<Field> fields_;
  QLineEdit* name_ = nullptr;
  QLabel* analysis_ = nullptr;
  QLabel* messages_ = nullptr;
  QLabel* refusal_ = nullptr;
};

}  // namespace nl::editor
