// Search-to-add's popup: a filter box over a list of layer types, opened on the canvas
// (Tab, double-click, a wire dropped on empty canvas). Typing re-ranks the list; Up/Down
// move, Enter or a click chooses, Escape or losing focus closes. It only reports the
// choice: the view decides what to add where.
#pragma once
#include <QFrame>

#include "editor/search/layer_search.h"

class QLineEdit;
class QListWidget;
class QListWidgetItem;

namespace nl::editor {

class SearchPopup : public QFrame {
  Q_OBJECT

 public:
  explicit SearchPopup(QWidget* parent);

  // Shows the popup with its top-left at `pos` (parent coordinates, kept inside the parent),
  // an empty filter box with focus, and the layers `filter` accepts (empty: all).
  void open(QPoint pos, std::function<bool(const graph::LayerSchema&)> filter = {});
  QLineEdit* filterBox() const { return edit_; }
  QListWidget* list() const { return list_; }
  // The layer types listed, in order (for tests and accessibility).
  QStringList listedTypes() const;

 signals:
  void chosen(const QString& type);
  void closed();

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void refill();
  void choose(QListWidgetItem* item);
  void dismiss();

  LayerSearch search_;
  QLineEdit* edit_;
  QListWidget* list_;
};

}  // namespace nl::editor
