// The model summary table, from graph::summarize.
#include "editor/panels/summary_widget.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace nl::editor {

namespace {

constexpr int kIdRole = Qt::UserRole + 1;

QTableWidgetItem* cell(const QString& text, bool number = false) {
  auto* item = new QTableWidgetItem(text);
  item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
  if (number) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  return item;
}

QString qs(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

SummaryWidget::SummaryWidget(GraphDocument& doc, QWidget* parent)
    : QWidget(parent), doc_(doc), table_(new QTableWidget(this)), totals_(new QLabel(this)) {
  table_->setColumnCount(6);
  table_->setHorizontalHeaderLabels({tr("Name"), tr("Type"), tr("Output shape"), tr("Params"), tr("FLOPs"), tr("Memory")});
  table_->verticalHeader()->hide();
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->setWordWrap(false);
  // Numbers stay next to the names they belong to rather than spread across a wide dock.
  table_->horizontalHeader()->setStretchLastSection(false);
  totals_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(table_);
  layout->addWidget(totals_);
  connect(&doc_, &GraphDocument::analysisChanged, this, &SummaryWidget::refresh);
  connect(table_, &QTableWidget::cellActivated, this, [this](int row, int) {
    if (QTableWidgetItem* item = table_->item(row, 0)) emit nodeActivated(item->data(kIdRole).value<qint64>());
  });
  refresh();
}

QString SummaryWidget::totalsText() const { return totals_->text(); }

void SummaryWidget::refresh() {
  graph::ModelSummary s = graph::summarize(doc_.graph(), doc_.analysis());
  table_->setRowCount(static_cast<int>(s.rows.size()));
  for (int r = 0; r < static_cast<int>(s.rows.size()); ++r) {
    const graph::SummaryRow& row = s.rows[r];
    QTableWidgetItem* name = cell(qs(row.name));
    name->setData(kIdRole, QVariant::fromValue<qint64>(row.id));
    table_->setItem(r, 0, name);
    table_->setItem(r, 1, cell(qs(row.type)));
    table_->setItem(r, 2, cell(qs(row.output_shape)));
    QTableWidgetItem* params = cell(qs(graph::human_count(row.params)), true);
    params->setToolTip(QString::number(row.params));
    table_->setItem(r, 3, params);
    table_->setItem(r, 4, cell(qs(graph::human_count(row.flops)), true));
    table_->setItem(r, 5, cell(qs(graph::human_bytes(row.activation_bytes)), true));
  }
  table_->resizeColumnsToContents();
  totals_->setText(tr("Total: %1 parameters (%2) · %3 FLOPs · %4 activations per sample")
                       .arg(qs(graph::human_count(s.params)))
                       .arg(s.params)
                       .arg(qs(graph::human_count(s.flops)), qs(graph::human_bytes(s.activation_bytes))));
}

}  // namespace nl::editor
