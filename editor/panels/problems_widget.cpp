// The problems list, from the analysis messages.
#include "editor/panels/problems_widget.h"

#include <QHeaderView>
#include <QStyle>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace nl::editor {

namespace {
constexpr int kIdRole = Qt::UserRole + 1;
}

ProblemsWidget::ProblemsWidget(GraphDocument& doc, QWidget* parent)
    : QWidget(parent), doc_(doc), list_(new QTreeWidget(this)) {
  list_->setColumnCount(2);
  list_->setHeaderLabels({tr("Node"), tr("Message")});
  list_->setRootIsDecorated(false);
  list_->setUniformRowHeights(true);
  list_->setWordWrap(false);
  list_->header()->setStretchLastSection(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(list_);
  connect(&doc_, &GraphDocument::analysisChanged, this, &ProblemsWidget::refresh);
  connect(list_, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) {
    graph::NodeId id = item->data(0, kIdRole).value<qint64>();
    if (id != 0) emit nodeActivated(id);
  });
  refresh();
}

void ProblemsWidget::refresh() {
  list_->clear();
  errors_ = warnings_ = 0;
  const graph::GraphAnalysis& a = doc_.analysis();
  std::vector<graph::NodeMessage> messages = a.messages;
  std::stable_sort(messages.begin(), messages.end(), [](const auto& x, const auto& y) {
    return x.severity == graph::Severity::Error && y.severity != graph::Severity::Error;
  });
  for (const graph::NodeMessage& m : messages) {
    bool error = m.severity == graph::Severity::Error;
    (error ? errors_ : warnings_)++;
    const graph::Node* node = doc_.graph().find(m.node);
    QString where = node ? QString::fromStdString(node->name) : tr("(model)");
    auto* item = new QTreeWidgetItem(list_, {where, QString::fromStdString(m.text)});
    item->setIcon(0, style()->standardIcon(error ? QStyle::SP_MessageBoxCritical : QStyle::SP_MessageBoxWarning));
    item->setForeground(1, QColor(error ? "#d32f2f" : "#ef6c00"));
    item->setToolTip(1, QString::fromStdString(m.text));
    item->setData(0, kIdRole, QVariant::fromValue<qint64>(m.node));
  }
  list_->resizeColumnToContents(0);
  emit countsChanged(errors_, warnings_);
}

}  // namespace nl::editor
