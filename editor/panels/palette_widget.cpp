// The palette: populating the layer tree from a registry, filtering and activation.
#include "editor/panels/palette_widget.h"

#include <QLineEdit>
#include <QPainter>
#include <QPixmap>
#include <QVBoxLayout>

#include "editor/canvas/node_style.h"
#include "editor/panels/layer_tree.h"

namespace nl::editor {

namespace {

// A round swatch in the category's canvas colour, so palette and nodes read alike.
QIcon categoryIcon(const QString& category) {
  QPixmap pm(14, 14);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(Qt::NoPen);
  p.setBrush(NodeStyle::categoryColor(category));
  p.drawRoundedRect(QRectF(1, 1, 12, 12), 3, 3);
  return QIcon(pm);
}

}  // namespace

PaletteWidget::PaletteWidget(const graph::LayerRegistry& registry, QWidget* parent)
    : QWidget(parent), filter_(new QLineEdit(this)), tree_(new LayerTree(this)) {
  filter_->setPlaceholderText(tr("Filter layers…"));
  filter_->setClearButtonEnabled(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(filter_);
  layout->addWidget(tree_);
  populate(registry);

  connect(filter_, &QLineEdit::textChanged, this, &PaletteWidget::setFilter);
  // Enter in the filter box adds the first match: type "conv", Enter, done.
  connect(filter_, &QLineEdit::returnPressed, this, [this] {
    QStringList shown = visibleTypes();
    if (!shown.isEmpty()) emit layerActivated(shown.first());
  });
  connect(tree_, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) {
    QString type = item->data(0, LayerTree::kTypeRole).toString();
    if (!type.isEmpty()) emit layerActivated(type);
  });
}

void PaletteWidget::populate(const graph::LayerRegistry& registry) {
  std::map<std::string, QTreeWidgetItem*> groups;
  for (const std::string& category : registry.categories()) {
    auto* group = new QTreeWidgetItem(tree_, {QString::fromStdString(category)});
    group->setFlags(Qt::ItemIsEnabled);
    group->setIcon(0, categoryIcon(QString::fromStdString(category)));
    QFont bold = group->font(0);
    bold.setBold(true);
    group->setFont(0, bold);
    groups[category] = group;
  }
  for (const std::string& type : registry.types()) {
    const graph::LayerSchema& schema = registry.get(type);
    auto* item = new QTreeWidgetItem(groups.at(schema.category), {QString::fromStdString(type)});
    item->setData(0, LayerTree::kTypeRole, QString::fromStdString(type));
    item->setToolTip(0, QString::fromStdString(schema.help));
    item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsDragEnabled);
  }
  tree_->expandAll();
}

bool PaletteWidget::matches(const QString& query, const QString& type, const QString& category) {
  QString q = query.trimmed();
  if (q.isEmpty()) return true;
  if (type.contains(q, Qt::CaseInsensitive) || category.contains(q, Qt::CaseInsensitive)) return true;
  int at = 0;
  for (QChar c : q) {
    at = type.indexOf(c, at, Qt::CaseInsensitive);
    if (at < 0) return false;
    ++at;
  }
  return true;
}

void PaletteWidget::setFilter(const QString& text) {
  if (filter_->text() != text) filter_->setText(text);  // keeps box and tree in step
  for (int g = 0; g < tree_->topLevelItemCount(); ++g) {
    QTreeWidgetItem* group = tree_->topLevelItem(g);
    int shown = 0;
    for (int i = 0; i < group->childCount(); ++i) {
      QTreeWidgetItem* item = group->child(i);
      bool match = matches(text, item->text(0), group->text(0));
      item->setHidden(!match);
      shown += match;
    }
    group->setHidden(shown == 0);
    if (shown > 0) group->setExpanded(true);
  }
}

QStringList PaletteWidget::visibleTypes() const {
  QStringList out;
  for (int g = 0; g < tree_->topLevelItemCount(); ++g) {
    QTreeWidgetItem* group = tree_->topLevelItem(g);
    if (group->isHidden()) continue;
    for (int i = 0; i < group->childCount(); ++i)
      if (!group->child(i)->isHidden()) out << group->child(i)->text(0);
  }
  return out;
}

}  // namespace nl::editor
