// The start page: what the main window shows when Netloom opens without a project. It offers
// a new empty project, opening a file, the example projects as templates (each a card with a
// picture of its graph, its name, size and description) and the recently opened files.
// It only asks: the main window does the opening, so menus, tests and this page share one
// path.
#pragma once
#include <QWidget>

class QListWidget;
class QListWidgetItem;
class QPushButton;

namespace nl::app {

class StartPage : public QWidget {
  Q_OBJECT

 public:
  explicit StartPage(QWidget* parent = nullptr);

  // Fills the template cards from example project files (unreadable ones are left out).
  void setTemplates(const QStringList& paths);
  void setRecentFiles(const QStringList& paths);

  QListWidget* templateList() const { return templates_; }
  QListWidget* recentList() const { return recent_; }
  QPushButton* newButton() const { return new_; }
  QPushButton* openButton() const { return open_; }

 signals:
  void newProjectRequested();
  void openRequested();
  void templateChosen(const QString& path);
  void recentChosen(const QString& path);

 private:
  QListWidget* templates_;
  QListWidget* recent_;
  QPushButton* new_;
  QPushButton* open_;
};

// A picture of a project's graph as the canvas draws it, fitted into `size` (the template
// cards' thumbnails). Null when the file cannot be read.
QPixmap render_project_thumbnail(const QString& path, QSize size, QString* name = nullptr,
                                 QString* description = nullptr, QString* facts = nullptr);

}  // namespace nl::app
