// Netloom's main window: the canvas over one graph document in the centre, the palette,
// inspector, summary and problems docks around it, and the File/Edit/View/Model menus.
// Besides the graph it keeps the project's other parts (ProjectSession) so Save writes the
// whole project back. Recent files, window geometry and the theme live in QSettings.
//
// The menu actions call the public functions below after asking for a path, so tests and
// the menus drive the same code.
#pragma once
#include <QMainWindow>
#include <vector>

#include "app/gui/project_session.h"
#include "app/gui/theme.h"
#include "editor/graph_document.h"

class QDockWidget;
class QMenu;
class QStackedWidget;

namespace nl::editor {
class GraphScene;
class GraphView;
class AutoLayout;
class InspectorWidget;
class PaletteWidget;
class ProblemsWidget;
class SummaryWidget;
}  // namespace nl::editor

namespace nl::app {

class TrainingUi;
class StartPage;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  editor::GraphDocument& document() { return doc_; }
  editor::GraphScene* scene() const { return scene_; }
  editor::GraphView* view() const { return view_; }
  editor::PaletteWidget* palette() const { return palette_; }
  editor::InspectorWidget* inspector() const { return inspector_; }
  editor::SummaryWidget* summary() const { return summary_; }
  editor::ProblemsWidget* problems() const { return problems_; }
  QDockWidget* problemsDock() const { return problems_dock_; }
  const ProjectSession& session() const { return session_; }
  QStringList recentFiles() const;
  Theme theme() const { return theme_; }
  // The Train menu, settings and dashboard docks (app/gui/run/training_ui.h).
  TrainingUi* training() const { return training_; }

  // The example projects offered by File ▸ New from Template.
  static QStringList templatePaths();

  // File ▸ Open (and Open Recent, and a path on the command line): replaces the document.
  // A file that cannot be read leaves the current project as it was and says why.
  bool openProject(const QString& path);
  // File ▸ New from Template: the example's graph and settings as a new, unsaved project.
  bool newFromTemplate(const QString& path);
  // File ▸ New: an empty project.
  void newProject();
  // File ▸ Open…: asks for a file (after offering to save changes).
  void openWithDialog();
  // The start page in place of the canvas: new, open, example templates, recent files.
  // Netloom opens on it when no project is given; File ▸ Start Page returns to it.
  void showStartPage();
  bool isShowingStartPage() const;
  StartPage* startPage() const { return start_page_; }
  // File ▸ Save As with the path chosen; Save writes to the project's own path.
  bool saveProjectAs(const QString& path);
  bool saveProject();
  // File ▸ Import ONNX (main_window_onnx.cpp): the model as a new, unsaved project, then
  // auto-laid out off the UI thread; an unreadable file leaves the project as it was.
  bool importOnnx(const QString& path);
  // File ▸ Export ONNX: the document's graph with the session's weights.
  bool exportOnnx(const QString& path);
  // Selects one node and centres the view on it (Problems and Summary activation).
  void selectNode(graph::NodeId id);
  void setTheme(Theme theme);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void showEvent(QShowEvent* event) override;

 private:
  // Leaves the start page for the canvas, bringing back the docks it hid.
  void showCanvas();
  // Reads a project into the document and session; errors leave both as they were.
  bool load(const QString& path);
  void createActions();
  void createDocks();
  void rebuildRecentMenu();
  void addRecentFile(const QString& path);
  void updateTitle();
  void addLayerAtCentre(const QString& type);
  void validate();
  // Save/Discard/Cancel when there are unsaved changes; false: the user cancelled.
  bool maybeSave();
  bool saveWithDialog();
  void importOnnxWithDialog();
  void exportOnnxWithDialog();
  void reportError(const QString& title, const QString& text);

  editor::GraphDocument doc_;
  ProjectSession session_;
  editor::GraphScene* scene_;
  editor::AutoLayout* layout_ = nullptr;
  editor::GraphView* view_;
  QStackedWidget* central_ = nullptr;
  StartPage* start_page_ = nullptr;
  std::vector<QDockWidget*> hidden_docks_;  // hidden while the start page shows
  editor::PaletteWidget* palette_ = nullptr;
  editor::InspectorWidget* inspector_ = nullptr;
  editor::SummaryWidget* summary_ = nullptr;
  editor::ProblemsWidget* problems_ = nullptr;
  QDockWidget *palette_dock_ = nullptr, *inspector_dock_ = nullptr, *summary_dock_ = nullptr,
              *problems_dock_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QMenu* view_menu_ = nullptr;
  Theme theme_ = Theme::Light;
  bool use_default_dock_sizes_ = false;
  TrainingUi* training_ = nullptr;
};

}  // namespace nl::app
