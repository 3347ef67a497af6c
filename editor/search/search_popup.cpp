// Search-to-add's popup.
#include "editor/search/search_popup.h"

#include <QKeyEvent>
#include <QLineEdit>
#include <QListWidget>
#include <QVBoxLayout>

namespace nl::editor {

SearchPopup::SearchPopup(QWidget* parent)
    : QFrame(parent), search_(graph::LayerRegistry::builtin()), edit_(new QLineEdit(this)), list_(new QListWidget(this)) {
  setFrameShape(QFrame::StyledPanel);
  setAutoFillBackground(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(3);
  edit_->setPlaceholderText(tr("Add layer…"));
  edit_->setClearButtonEnabled(true);
  layout->addWidget(edit_);
  layout->addWidget(list_);
  list_->setFocusPolicy(Qt::NoFocus);  // typing always goes to the filter box
  list_->setUniformItemSizes(true);
  resize(240, 300);
  hide();
  connect(edit_, &QLineEdit::textChanged, this, &SearchPopup::refill);
  connect(list_, &QListWidget::itemClicked, this, &SearchPopup::choose);
  edit_->installEventFilter(this);
}

void SearchPopup::open(QPoint pos, std::function<bool(const graph::LayerSchema&)> filter) {
  search_.setFilter(std::move(filter));
  edit_->blockSignals(true);
  edit_->clear();
  edit_->blockSignals(false);
  refill();
  if (QWidget* p = parentWidget()) {
    pos.setX(std::clamp(pos.x(), 0, std::max(0, p->width() - width())));
    pos.setY(std::clamp(pos.y(), 0, std::max(0, p->height() - height())));
  }
  move(pos);
  show();
  raise();
  edit_->setFocus(Qt::PopupFocusReason);
}

QStringList SearchPopup::listedTypes() const {
  QStringList out;
  for (int i = 0; i < list_->count(); ++i) out << list_->item(i)->data(Qt::UserRole).toString();
  return out;
}

void SearchPopup::refill() {
  list_->clear();
  for (const LayerMatch& m : search_.find(edit_->text())) {
    auto* item = new QListWidgetItem(m.type + QStringLiteral("  ·  ") + m.category, list_);
    item->setData(Qt::UserRole, m.type);
  }
  if (list_->count() > 0) list_->setCurrentRow(0);
}

void SearchPopup::choose(QListWidgetItem* item) {
  if (!item) return;
  QString type = item->data(Qt::UserRole).toString();
  hide();
  emit chosen(type);
  emit closed();
}

void SearchPopup::dismiss() {
  if (!isVisible()) return;
  hide();
  emit closed();
}

bool SearchPopup::eventFilter(QObject* watched, QEvent* event) {
  if (watched == edit_ && event->type() == QEvent::KeyPress) {
    auto* key = static_cast<QKeyEvent*>(event);
    switch (key->key()) {
      case Qt::Key_Escape:
        dismiss();
        return true;
      case Qt::Key_Return:
      case Qt::Key_Enter:
        choose(list_->currentItem());
        return true;
      case Qt::Key_Down:
      case Qt::Key_Up: {
        int row = list_->currentRow() + (key->key() == Qt::Key_Down ? 1 : -1);
        if (row >= 0 && row < list_->count()) list_->setCurrentRow(row);
        return true;
      }
      default:
        break;
    }
  }
  if (watched == edit_ && event->type() == QEvent::FocusOut) {
    // A click elsewhere on the canvas closes the popup; a click on the list does not take
    // focus (NoFocus), so choosing with the mouse still works.
    auto* focus = static_cast<QFocusEvent*>(event);
    if (focus->reason() != Qt::PopupFocusReason) dismiss();
  }
  return QFrame::eventFilter(watched, event);
}

}  // namespace nl::editor
