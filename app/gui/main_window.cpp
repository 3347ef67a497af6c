// The main window: menus, docks, project open/save and the wiring between the canvas and
// the docks.
#include "app/gui/main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QStyle>
#include <QTimer>
#include <QToolBar>

#include "app/gui/run/training_ui.h"
#include "app/gui/start_page.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/group_item.h"
#include "editor/canvas/graph_view.h"
#include "editor/layout/auto_layout.h"
#include "editor/canvas/node_item.h"
#include "editor/canvas/node_style.h"
#include "editor/panels/inspector_widget.h"
#include "editor/panels/palette_widget.h"
#include "editor/panels/problems_widget.h"
#include "editor/panels/summary_widget.h"

namespace nl::app {

namespace {
constexpr int kMaxRecent = 8;
const char* kRecentKey = "recentFiles";
}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), scene_(new editor::GraphScene(doc_, this)), view_(new editor::GraphView(scene_, this)) {
  layout_ = new editor::AutoLayout(doc_, this);
  // The centre is the canvas, or the start page until a project is chosen.
  central_ = new QStackedWidget(this);
  start_page_ = new StartPage(central_);
  central_->addWidget(view_);
  central_->addWidget(start_page_);
  setCentralWidget(central_);
  connect(start_page_, &StartPage::newProjectRequested, this, &MainWindow::newProject);
  connect(start_page_, &StartPage::openRequested, this, &MainWindow::openWithDialog);
  connect(start_page_, &StartPage::templateChosen, this, &MainWindow::newFromTemplate);
  connect(start_page_, &StartPage::recentChosen, this, &MainWindow::openProject);
  createDocks();
  createActions();
  training_ = new TrainingUi(*this, doc_, session_, scene_);

  connect(&doc_, &editor::GraphDocument::dirtyChanged, this, &MainWindow::updateTitle);
  connect(&doc_, &editor::GraphDocument::graphReset, this, &MainWindow::updateTitle);
  connect(&doc_, &editor::GraphDocument::editRefused, this,
          [this](const QString& reason) { statusBar()->showMessage(reason, 8000); });
  connect(scene_, &editor::GraphScene::statusMessage, this,
          [this](const QString& text) { statusBar()->showMessage(text, 8000); });
  connect(scene_, &QGraphicsScene::selectionChanged, this, [this] {
    std::vector<graph::NodeId> ids = scene_->selectedNodeIds();
    inspector_->showNode(ids.size() == 1 ? ids.front() : 0);
  });

  QSettings settings;
  setTheme(theme_from_name(settings.value("theme").toString()));
  resize(1600, 900);
  restoreGeometry(settings.value("window/geometry").toByteArray());
  // Without a saved layout, default dock sizes are applied once the window is laid out
  // (showEvent): before that resizeDocks has nothing to divide.
  use_default_dock_sizes_ = !restoreState(settings.value("window/state").toByteArray());
  updateTitle();
  statusBar()->showMessage(tr("Drag a layer from the palette, or open an example from File ▸ New from Template."));
}

MainWindow::~MainWindow() {
  // The scene, the view and the docks read the document, a member that dies before QWidget
  // deletes its children: take them down first, and stop the scene's selection signal from
  // reaching an inspector that is already gone.
  disconnect(scene_, nullptr, this, nullptr);
  delete view_;
  delete scene_;
  for (QDockWidget* d : {palette_dock_, inspector_dock_, summary_dock_, problems_dock_}) delete d;
}

// --- Building the window ---

void MainWindow::createDocks() {
  auto dock = [this](const QString& title, const QString& name, QWidget* content, Qt::DockWidgetArea area) {
    auto* d = new QDockWidget(title, this);
    d->setObjectName(name);  // saveState() keys docks by object name
    d->setWidget(content);
    addDockWidget(area, d);
    return d;
  };
  palette_ = new editor::PaletteWidget(graph::LayerRegistry::builtin(), this);
  inspector_ = new editor::InspectorWidget(doc_, this);
  summary_ = new editor::SummaryWidget(doc_, this);
  problems_ = new editor::ProblemsWidget(doc_, this);
  palette_dock_ = dock(tr("Layers"), "paletteDock", palette_, Qt::LeftDockWidgetArea);
  inspector_dock_ = dock(tr("Inspector"), "inspectorDock", inspector_, Qt::RightDockWidgetArea);
  summary_dock_ = dock(tr("Model Summary"), "summaryDock", summary_, Qt::BottomDockWidgetArea);
  problems_dock_ = dock(tr("Problems"), "problemsDock", problems_, Qt::BottomDockWidgetArea);
  tabifyDockWidget(summary_dock_, problems_dock_);
  summary_dock_->raise();
  // The canvas gets the most room; the side docks are wide enough for layer names and the
  // inspector's form, the bottom one shows about eight summary rows (sizes set in the
  // constructor, after the training docks join).

  connect(palette_, &editor::PaletteWidget::layerActivated, this, &MainWindow::addLayerAtCentre);
  connect(problems_, &editor::ProblemsWidget::nodeActivated, this, &MainWindow::selectNode);
  connect(summary_, &editor::SummaryWidget::nodeActivated, this, &MainWindow::selectNode);
  connect(problems_, &editor::ProblemsWidget::countsChanged, this, [this](int errors, int warnings) {
    problems_dock_->setWindowTitle(errors + warnings ? tr("Problems (%1)").arg(errors + warnings) : tr("Problems"));
  });
  problems_dock_->setWindowTitle(problems_->errorCount() + problems_->warningCount()
                                     ? tr("Problems (%1)").arg(problems_->errorCount() + problems_->warningCount())
                                     : tr("Problems"));
}

void MainWindow::createActions() {
  QStyle* st = style();
  auto icon = [](const char* theme_name, QIcon fallback) { return QIcon::fromTheme(theme_name, fallback); };

  // File
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* new_act = file->addAction(icon("document-new", st->standardIcon(QStyle::SP_FileIcon)), tr("&New"), this,
                                     [this] {
                                       if (maybeSave()) newProject();
                                     });
  new_act->setShortcut(QKeySequence::New);
  QMenu* templates = file->addMenu(tr("New from &Template"));
  for (const QString& path : templatePaths()) {
    QString label = QFileInfo(path).completeBaseName().replace('_', ' ');
    templates->addAction(label, this, [this, path] {
      if (maybeSave()) newFromTemplate(path);
    });
  }
  templates->setEnabled(!templates->isEmpty());
  QAction* open_act = file->addAction(icon("document-open", st->standardIcon(QStyle::SP_DialogOpenButton)),
                                      tr("&Open…"), this, &MainWindow::openWithDialog);
  open_act->setShortcut(QKeySequence::Open);
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  rebuildRecentMenu();
  file->addAction(tr("Start &Page"), this, [this] {
    if (maybeSave()) showStartPage();
  });
  file->addSeparator();
  QAction* save_act = file->addAction(icon("document-save", st->standardIcon(QStyle::SP_DialogSaveButton)),
                                      tr("&Save"), this, &MainWindow::saveProject);
  save_act->setShortcut(QKeySequence::Save);
  QAction* save_as = file->addAction(tr("Save &As…"), this, &MainWindow::saveWithDialog);
  save_as->setShortcut(QKeySequence::SaveAs);
  file->addSeparator();
  file->addAction(tr("&Import ONNX…"), this, &MainWindow::importOnnxWithDialog);
  file->addAction(tr("&Export ONNX…"), this, &MainWindow::exportOnnxWithDialog);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  // Edit
  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  QAction* undo = doc_.undoStack()->createUndoAction(this, tr("&Undo"));
  undo->setShortcut(QKeySequence::Undo);
  undo->setIcon(icon("edit-undo", st->standardIcon(QStyle::SP_ArrowBack)));
  QAction* redo = doc_.undoStack()->createRedoAction(this, tr("&Redo"));
  redo->setShortcut(QKeySequence::Redo);
  redo->setIcon(icon("edit-redo", st->standardIcon(QStyle::SP_ArrowForward)));
  edit->addAction(undo);
  edit->addAction(redo);
  edit->addSeparator();
  QAction* del = edit->addAction(tr("&Delete"), scene_, &editor::GraphScene::deleteSelection);
  del->setShortcut(QKeySequence::Delete);
  // Delete belongs to the canvas: in the inspector's fields it deletes characters.
  del->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  view_->addAction(del);
  edit->addSeparator();
  // The canvas handles these keys itself while it has focus; the actions make them
  // discoverable and reachable from the menu.
  auto canvas_action = [&](QMenu* menu, const QString& text, QKeySequence keys, auto slot) {
    QAction* a = menu->addAction(text, view_, slot);
    a->setShortcut(keys);
    a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    view_->addAction(a);
    return a;
  };
  canvas_action(edit, tr("Cu&t"), QKeySequence::Cut, &editor::GraphView::cutSelection);
  canvas_action(edit, tr("&Copy"), QKeySequence::Copy, &editor::GraphView::copySelection);
  canvas_action(edit, tr("&Paste"), QKeySequence::Paste, qOverload<>(&editor::GraphView::paste));
  canvas_action(edit, tr("D&uplicate"), QKeySequence(Qt::CTRL | Qt::Key_D), &editor::GraphView::duplicateSelection);
  canvas_action(edit, tr("Select &All"), QKeySequence::SelectAll, &editor::GraphView::selectAll);
  QMenu* align = edit->addMenu(tr("A&lign"));
  using Align = editor::GraphView::Alignment;
  for (auto [text, how] : {std::pair{tr("&Left Edges"), Align::Left}, {tr("&Top Edges"), Align::Top},
                           {tr("&Horizontal Centres"), Align::HorizontalCentre},
                           {tr("&Vertical Centres"), Align::VerticalCentre}})
    align->addAction(text, this, [this, how = how] { view_->alignSelection(how); });

  // View
  view_menu_ = menuBar()->addMenu(tr("&View"));
  QAction* fit = view_menu_->addAction(icon("zoom-fit-best", st->standardIcon(QStyle::SP_TitleBarMaxButton)),
                                       tr("&Fit to View"), view_, &editor::GraphView::fitToView);
  fit->setShortcut(Qt::CTRL | Qt::Key_0);
  view_menu_->addAction(tr("Zoom &In"), this, [this] { view_->zoomBy(1.25); })->setShortcut(QKeySequence::ZoomIn);
  view_menu_->addAction(tr("Zoom &Out"), this, [this] { view_->zoomBy(0.8); })->setShortcut(QKeySequence::ZoomOut);
  view_menu_->addSeparator();
  for (QDockWidget* d : {palette_dock_, inspector_dock_, summary_dock_, problems_dock_})
    view_menu_->addAction(d->toggleViewAction());
  QAction* minimap = view_menu_->addAction(tr("&Minimap"), view_, &editor::GraphView::setMinimapVisible);
  minimap->setCheckable(true);
  minimap->setChecked(true);
  view_menu_->addSeparator();
  auto* themes = new QActionGroup(this);
  for (Theme t : {Theme::Light, Theme::Dark}) {
    QAction* a = view_menu_->addAction(t == Theme::Light ? tr("&Light Theme") : tr("&Dark Theme"));
    a->setCheckable(true);
    a->setData(theme_name(t));
    themes->addAction(a);
    connect(a, &QAction::triggered, this, [this, t] { setTheme(t); });
  }
  connect(view_menu_, &QMenu::aboutToShow, this, [this, themes] {
    for (QAction* a : themes->actions()) a->setChecked(a->data().toString() == theme_name(theme_));
  });

  // Model
  QMenu* model = menuBar()->addMenu(tr("&Model"));
  model->addAction(tr("&Validate"), this, &MainWindow::validate)->setShortcut(Qt::Key_F7);
  model->addSeparator();
  // Layout runs on a worker thread (graphviz) and lands as one undoable move.
  model->addAction(tr("Auto-&Layout Left to Right"), this,
                   [this] { layout_->start(editor::LayoutDirection::LeftToRight); })
      ->setShortcut(Qt::CTRL | Qt::Key_L);
  model->addAction(tr("Auto-Layout &Top to Bottom"), this,
                   [this] { layout_->start(editor::LayoutDirection::TopToBottom); });
  QAction* cancel_layout = model->addAction(tr("&Cancel Auto-Layout"), layout_, &editor::AutoLayout::cancel);
  connect(model, &QMenu::aboutToShow, this, [this, cancel_layout] { cancel_layout->setEnabled(layout_->isRunning()); });
  model->addSeparator();
  canvas_action(model, tr("&Group into Block"), QKeySequence(Qt::CTRL | Qt::Key_G), &editor::GraphView::groupSelection);
  canvas_action(model, tr("&Ungroup Block"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_G),
                &editor::GraphView::ungroupSelection);
  canvas_action(model, tr("&Collapse/Expand Block"), QKeySequence(Qt::CTRL | Qt::Key_E),
                &editor::GraphView::toggleSelectedGroups);
  model->addAction(tr("&Rename Block…"), view_, &editor::GraphView::renameSelectedGroup);

  QToolBar* bar = addToolBar(tr("Main"));
  bar->setObjectName("mainToolBar");
  bar->setMovable(false);
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  for (QAction* a : {new_act, open_act, save_act}) bar->addAction(a);
  bar->addSeparator();
  bar->addAction(undo);
  bar->addAction(redo);
  bar->addSeparator();
  bar->addAction(fit);
}

// --- Projects ---

QStringList MainWindow::templatePaths() {
  // An installed Netloom ships the examples beside the binary's share folder; a build tree
  // reads them from the sources.
  QStringList dirs = {qEnvironmentVariable("NETLOOM_EXAMPLES_DIR"),
                      QCoreApplication::applicationDirPath() + "/../share/netloom/examples",
                      QStringLiteral(NETLOOM_SOURCE_EXAMPLES_DIR)};
  for (const QString& d : dirs) {
    if (d.isEmpty()) continue;
    QDir dir(d);
    QStringList files = dir.entryList({"*.netloom"}, QDir::Files, QDir::Name);
    if (files.isEmpty()) continue;
    for (QString& f : files) f = dir.absoluteFilePath(f);
    return files;
  }
  return {};
}

bool MainWindow::openProject(const QString& path) {
  if (!load(path)) return false;
  addRecentFile(session_.path);
  statusBar()->showMessage(tr("Opened %1").arg(QDir::toNativeSeparators(session_.path)), 5000);
  return true;
}

bool MainWindow::newFromTemplate(const QString& path) {
  if (!load(path)) return false;
  // A template is a starting point: saving must not overwrite the example.
  session_.path.clear();
  updateTitle();
  return true;
}

void MainWindow::openWithDialog() {
  if (!maybeSave()) return;
  QString path = QFileDialog::getOpenFileName(this, tr("Open Project"), QString(), tr("Netloom projects (*.netloom)"));
  if (!path.isEmpty()) openProject(path);
}

void MainWindow::showStartPage() {
  // Cards are rendered when the page is shown, so a fresh example or recent file appears.
  start_page_->setTemplates(templatePaths());
  start_page_->setRecentFiles(recentFiles());
  if (!isShowingStartPage()) {
    // The docks describe a project; with none open they would stand empty around the page.
    hidden_docks_.clear();
    for (QDockWidget* d : findChildren<QDockWidget*>())
      if (d->isVisible()) {
        hidden_docks_.push_back(d);
        d->hide();
      }
  }
  central_->setCurrentWidget(start_page_);
  setWindowTitle(tr("Netloom"));
  statusBar()->showMessage(tr("Choose an example to start from, or start an empty project."));
}

bool MainWindow::isShowingStartPage() const { return central_->currentWidget() == start_page_; }

void MainWindow::showCanvas() {
  if (!isShowingStartPage()) return;
  central_->setCurrentWidget(view_);
  for (QDockWidget* d : hidden_docks_) d->show();
  hidden_docks_.clear();
}

bool MainWindow::load(const QString& path) {
  try {
    project::Project p = project::load_project(path.toStdString());
    session_ = ProjectSession::from(p, QFileInfo(path).absoluteFilePath());
    doc_.reset(std::move(p.graph));
    showCanvas();
  } catch (const std::exception& e) {
    reportError(tr("Cannot open project"), QString::fromUtf8(e.what()));
    return false;
  }
  updateTitle();
  QTimer::singleShot(0, view_, &editor::GraphView::fitToView);  // once the view has its size
  return true;
}

void MainWindow::newProject() {
  session_ = ProjectSession{};
  doc_.reset(graph::ModelGraph{});
  showCanvas();
  updateTitle();
}

bool MainWindow::saveProject() {
  if (session_.path.isEmpty()) return saveWithDialog();
  return saveProjectAs(session_.path);
}

bool MainWindow::saveWithDialog() {
  QString suggested = session_.path.isEmpty() ? session_.displayName() + ".netloom" : session_.path;
  QString path = QFileDialog::getSaveFileName(this, tr("Save Project"), suggested, tr("Netloom projects (*.netloom)"));
  if (path.isEmpty()) return false;
  if (!path.endsWith(".netloom")) path += ".netloom";
  return saveProjectAs(path);
}

bool MainWindow::saveProjectAs(const QString& path) {
  QString note;
  project::Project p = session_.toProject(doc_.graph(), &note);
  try {
    project::save_project(p, path.toStdString());
  } catch (const std::exception& e) {
    reportError(tr("Cannot save project"), QString::fromUtf8(e.what()));
    return false;
  }
  session_.path = QFileInfo(path).absoluteFilePath();
  session_.weights = p.weights;  // what the file now holds
  doc_.markClean();
  addRecentFile(session_.path);
  updateTitle();
  statusBar()->showMessage(note.isEmpty() ? tr("Saved %1").arg(QDir::toNativeSeparators(session_.path)) : note, 8000);
  return true;
}

bool MainWindow::maybeSave() {
  if (!doc_.isDirty()) return true;
  auto answer = QMessageBox::warning(this, tr("Unsaved changes"),
                                     tr("%1 has unsaved changes. Save them?").arg(session_.displayName()),
                                     QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
  if (answer == QMessageBox::Save) return saveProject();
  return answer == QMessageBox::Discard;
}

void MainWindow::reportError(const QString& title, const QString& text) {
  statusBar()->showMessage(text, 10000);
  // Window-modal and non-blocking: the caller carries on with the project unchanged.
  auto* box = new QMessageBox(QMessageBox::Critical, title, text, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

// --- Recent files, title, settings ---

QStringList MainWindow::recentFiles() const { return QSettings().value(kRecentKey).toStringList(); }

void MainWindow::addRecentFile(const QString& path) {
  QSettings settings;
  QStringList recent = settings.value(kRecentKey).toStringList();
  recent.removeAll(path);
  recent.prepend(path);
  while (recent.size() > kMaxRecent) recent.removeLast();
  settings.setValue(kRecentKey, recent);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recent_menu_->clear();
  for (const QString& path : recentFiles()) {
    recent_menu_->addAction(QDir::toNativeSeparators(path), this, [this, path] {
      if (maybeSave()) openProject(path);
    });
  }
  recent_menu_->setEnabled(!recent_menu_->isEmpty());
}

void MainWindow::updateTitle() {
  setWindowTitle(QStringLiteral("%1%2 — Netloom").arg(session_.displayName(), doc_.isDirty() ? "*" : ""));
}

void MainWindow::setTheme(Theme theme) {
  theme_ = theme;
  apply_theme(theme);
  // The canvas paints with CanvasColors taken from the palette: repaint it in the new colours.
  view_->resetCachedContent();
  scene_->update();
  QSettings().setValue("theme", theme_name(theme));
}

void MainWindow::showEvent(QShowEvent* event) {
  QMainWindow::showEvent(event);
  if (!use_default_dock_sizes_) return;
  use_default_dock_sizes_ = false;
  QTimer::singleShot(0, this, [this] {
    // The canvas gets the most room; the side docks are wide enough for layer names and the
    // inspector's form, the bottom one shows about eight summary rows.
    resizeDocks({palette_dock_, inspector_dock_}, {220, 340}, Qt::Horizontal);
    resizeDocks({summary_dock_}, {230}, Qt::Vertical);
  });
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (!maybeSave()) {
    event->ignore();
    return;
  }
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/state", saveState());
  event->accept();
}

// --- Canvas and docks ---

void MainWindow::addLayerAtCentre(const QString& type) {
  QPointF centre = view_->mapToScene(view_->viewport()->rect().center());
  graph::NodeUi ui;
  ui.x = centre.x() - editor::NodeStyle::kWidth / 2;
  ui.y = centre.y() - editor::NodeStyle::kHeader;
  auto added = doc_.addNode(type.toStdString(), {}, {}, ui);
  if (added) selectNode(added.value);
}

void MainWindow::selectNode(graph::NodeId id) {
  QGraphicsItem* item = scene_->nodeItem(id);
  if (!item) return;
  // A node inside a collapsed block is shown by its block.
  if (!item->isVisible())
    if (editor::GroupItem* block = scene_->groupItemOf(id)) item = block;
  scene_->clearSelection();
  item->setSelected(true);
  view_->centerOn(item);
  view_->setFocus();
}

void MainWindow::validate() {
  problems_dock_->show();
  problems_dock_->raise();
  int errors = problems_->errorCount(), warnings = problems_->warningCount();
  statusBar()->showMessage(errors + warnings ? tr("%1 error(s), %2 warning(s)").arg(errors).arg(warnings)
                                             : tr("The model is valid"),
                           8000);
}

}  // namespace nl::app
