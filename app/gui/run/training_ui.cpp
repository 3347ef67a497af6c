// Train menu, docks and run wiring in the main window (see training_ui.h).
#include "app/gui/run/training_ui.h"

#include <QAction>
#include <QCheckBox>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QScrollArea>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QMainWindow>
#include <QMenuBar>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QToolBar>
#include <QUndoCommand>
#include <QUndoStack>
#include <QVBoxLayout>

#include "app/gui/run/dashboard_widget.h"
#include "app/gui/run/gradient_sparkline.h"
#include "app/gui/run/train_settings_widget.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/node_item.h"
#include "editor/graph_document.h"
#include "engine/run/graph_executor.h"

namespace nl::app {

// Note [Settings edits]: consecutive settings edits merge into one undo step, so stepping a
// spin box through ten values is undone at once; any graph edit in between starts a new one.
class SetTrainingSettingsCommand : public QUndoCommand {
 public:
  SetTrainingSettingsCommand(ProjectSession& session, TrainSettingsWidget* form, project::TrainingSettings before,
                             project::TrainingSettings after)
      : QUndoCommand(QObject::tr("Change Training Settings")),
        session_(session),
        form_(form),
        before_(std::move(before)),
        after_(std::move(after)) {}
  int id() const override { return 0x7e51; }
  bool mergeWith(const QUndoCommand* other) override {
    after_ = static_cast<const SetTrainingSettingsCommand*>(other)->after_;
    return true;
  }
  void redo() override { apply(after_); }
  void undo() override { apply(before_); }

 private:
  void apply(const project::TrainingSettings& s) {
    session_.training = s;
    // The form already shows what the user just typed; refill it only for undo and redo.
    if (form_ && !(form_->settings() == s)) form_->setSettings(s);
  }
  ProjectSession& session_;
  QPointer<TrainSettingsWidget> form_;
  project::TrainingSettings before_, after_;
};

TrainingUi::TrainingUi(QMainWindow& window, editor::GraphDocument& doc, ProjectSession& session,
                       editor::GraphScene* scene)
    : QObject(&window), window_(window), doc_(doc), session_(session), scene_(scene) {
  // Docks.
  dashboard_ = new DashboardWidget;
  dashboard_dock_ = new QDockWidget(tr("Training"), &window);
  dashboard_dock_->setObjectName("trainingDock");
  dashboard_dock_->setWidget(dashboard_);
  window.addDockWidget(Qt::BottomDockWidgetArea, dashboard_dock_);
  if (auto* problems = window.findChild<QDockWidget*>("problemsDock")) window.tabifyDockWidget(problems, dashboard_dock_);
  if (auto* summary = window.findChild<QDockWidget*>("summaryDock")) summary->raise();
  // Hidden until the first run (View ▸ Training shows it): its charts need more height than
  // the editing layout gives the bottom docks, and would otherwise force it taller.
  dashboard_dock_->hide();

  settings_ = new TrainSettingsWidget;
  continue_weights_ = new QCheckBox(tr("Start from the project's trained weights"));
  continue_weights_->setObjectName("continueFromWeightsCheck");
  continue_weights_->setToolTip(tr("Unticked, a run starts from freshly initialised weights (drawn from the seed)"));
  auto* settings_page = new QWidget;
  auto* sl = new QVBoxLayout(settings_page);
  sl->setContentsMargins(0, 0, 0, 0);
  sl->addWidget(continue_weights_);
  sl->addWidget(settings_);
  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  scroll->setWidget(settings_page);
  settings_dock_ = new QDockWidget(tr("Train Settings"), &window);
  settings_dock_->setObjectName("trainSettingsDock");
  settings_dock_->setWidget(scroll);
  window.addDockWidget(Qt::RightDockWidgetArea, settings_dock_);
  if (auto* inspector = window.findChild<QDockWidget*>("inspectorDock")) {
    window.tabifyDockWidget(inspector, settings_dock_);
    inspector->raise();
  }

  // Actions, menu, toolbar.
  QStyle* st = window.style();
  start_ = new QAction(st->standardIcon(QStyle::SP_MediaPlay), tr("&Start"), this);
  start_->setShortcut(Qt::Key_F5);
  start_->setObjectName("trainStartAction");
  pause_ = new QAction(st->standardIcon(QStyle::SP_MediaPause), tr("&Pause"), this);
  pause_->setShortcut(Qt::Key_F6);
  pause_->setCheckable(true);
  pause_->setObjectName("trainPauseAction");
  stop_ = new QAction(st->standardIcon(QStyle::SP_MediaStop), tr("S&top"), this);
  stop_->setShortcut(Qt::SHIFT | Qt::Key_F5);
  stop_->setObjectName("trainStopAction");
  checkpoint_ = new QAction(st->standardIcon(QStyle::SP_DriveFDIcon), tr("Save &Checkpoint Now"), this);
  checkpoint_->setObjectName("trainCheckpointAction");
  resume_from_ = new QAction(tr("&Resume from Checkpoint…"), this);
  resume_from_->setObjectName("trainResumeFromAction");
  connect(start_, &QAction::triggered, this, [this] { start(); });
  connect(pause_, &QAction::triggered, this, [this](bool on) { on ? pause() : resume(); });
  connect(stop_, &QAction::triggered, this, &TrainingUi::stop);
  connect(checkpoint_, &QAction::triggered, this, [this] { saveCheckpointNow(); });
  connect(resume_from_, &QAction::triggered, this, [this] {
    QString path = QFileDialog::getOpenFileName(&window_, tr("Resume from Checkpoint"), runsFolder(),
                                                tr("Netloom checkpoints (*.safetensors)"));
    if (!path.isEmpty()) startFromCheckpoint(path);
  });
  QMenu* menu = window.menuBar()->addMenu(tr("&Train"));
  menu->addActions({start_, pause_, stop_});
  menu->addSeparator();
  menu->addActions({checkpoint_, resume_from_});
  menu->addSeparator();
  menu->addAction(settings_dock_->toggleViewAction());
  menu->addAction(dashboard_dock_->toggleViewAction());
  QToolBar* bar = window.addToolBar(tr("Training"));
  bar->setObjectName("trainingToolBar");
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  bar->addActions({start_, pause_, stop_, checkpoint_});

  // Wiring. A settings edit is an undoable step of the project, like a graph edit: it marks
  // the project modified (Save and the unsaved-changes prompt cover it) and Ctrl+Z undoes it.
  connect(settings_, &TrainSettingsWidget::settingsChanged, this, [this](const project::TrainingSettings& s) {
    if (s == session_.training) return;
    doc_.undoStack()->push(new SetTrainingSettingsCommand(session_, settings_, session_.training, s));
  });
  connect(&doc_, &editor::GraphDocument::graphReset, this, &TrainingUi::projectChanged);
  connect(&controller_, &RunController::eventsArrived, dashboard_, &DashboardWidget::addEvents);
  connect(&controller_, &RunController::stateChanged, this, [this](RunController::State s) {
    dashboard_->setState(s);
    if (s == RunController::State::Running) dashboard_->setClassNames(controller_.classNames());
    updateActions();
  });
  connect(&controller_, &RunController::finished, this, &TrainingUi::onFinished);
  connect(dashboard_, &DashboardWidget::layerNormsChanged, this, &TrainingUi::updateSparklines);
  projectChanged();
  updateActions();
}

TrainingUi::~TrainingUi() = default;

QString TrainingUi::runsFolder() const {
  if (!session_.path.isEmpty()) {
    QFileInfo f(session_.path);
    return f.absoluteDir().filePath(f.completeBaseName() + ".runs");
  }
  QString base = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
  QString name = session_.displayName();
  name.replace(QRegularExpression("[^A-Za-z0-9_.-]+"), "_");
  return QDir(base).filePath("runs/" + name);
}

void TrainingUi::projectChanged() {
  if (controller_.isActive()) {
    // Another project replaced the one being trained: the run goes on into its own folder,
    // but its weights and sparklines no longer belong to what the window shows.
    project_replaced_during_run_ = true;
    node_of_module_.clear();
  }
  settings_->setSettings(session_.training);
  settings_->setBaseDir(session_.path.isEmpty() ? QDir::currentPath() : QFileInfo(session_.path).absolutePath());
  continue_weights_->setChecked(false);
  continue_weights_->setEnabled(!session_.weights.empty());
  if (!controller_.isActive()) dashboard_->setHistoryFolder(runsFolder());
  clearSparklines();
}

void TrainingUi::updateActions() {
  const RunController::State s = controller_.state();
  const bool active = controller_.isActive();
  start_->setEnabled(!active);
  resume_from_->setEnabled(!active);
  pause_->setEnabled(s == RunController::State::Running || s == RunController::State::Paused);
  pause_->setChecked(s == RunController::State::Paused);
  stop_->setEnabled(active && s != RunController::State::Stopping);
  checkpoint_->setEnabled(s == RunController::State::Running || s == RunController::State::Paused);
}

bool TrainingUi::start() { return startRun(QString()); }
bool TrainingUi::startFromCheckpoint(const QString& checkpoint) { return startRun(checkpoint); }

bool TrainingUi::startRun(const QString& checkpoint) {
  if (controller_.isActive()) return false;
  RunRequest request;
  QString note;
  request.project = session_.toProject(doc_.graph(), &note);
  request.baseDir = session_.path.isEmpty() ? QDir::currentPath() : QFileInfo(session_.path).absolutePath();
  request.continueFromWeights = continue_weights_->isChecked() && continue_weights_->isEnabled();
  request.resumeCheckpoint = checkpoint;
  // Two features are drawn as a scatter of the whole validation set; images as a grid of 32.
  request.validationSamples = 32;
  for (graph::NodeId id : request.project.graph.nodes_of_type("Input")) {
    auto shape = std::get<std::vector<int64_t>>(request.project.graph.attribute(id, "shape"));
    if (shape.size() == 2 && shape[1] == 2) request.validationSamples = 1000;
    break;
  }

  // A folder per run: settings now, metrics and TensorBoard events as it goes, result at the end.
  QDir runs(runsFolder());
  QString name = "run-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
  QString unique = name;
  for (int i = 2; runs.exists(unique); ++i) unique = name + "-" + QString::number(i);
  if (!runs.mkpath(unique)) {
    dashboard_->setFinished({run::RunStatus::Failed, "cannot create the run folder " + runs.filePath(unique).toStdString(), 0, 0, {}});
    return false;
  }
  run_dir_ = runs.filePath(unique);
  request.runDir = run_dir_;
  QFile settings_file(QDir(run_dir_).filePath("settings.json"));
  if (settings_file.open(QIODevice::WriteOnly))
    settings_file.write(QByteArray::fromStdString(project::to_json(request.project.training).dump(2)));

  node_of_module_.clear();
  project_replaced_during_run_ = false;
  for (graph::NodeId id : request.project.graph.topological_order())
    node_of_module_[run::module_name_for(request.project.graph.node(id).name)] = id;
  clearSparklines();

  const project::TrainingSettings& s = request.project.training;
  // Steps per epoch are known once the data is loaded; the dashboard reads them from the steps.
  dashboard_->beginRun(s.epochs, 0);
  dashboard_->setHistoryFolder(runsFolder());
  dashboard_dock_->show();
  dashboard_dock_->raise();
  // The charts need room: a short bottom dock (the editing layout) grows to half the window
  // while training; a taller one the user chose stays as it is.
  if (!dashboard_dock_->isFloating() && dashboard_dock_->height() < window_.height() * 0.45)
    window_.resizeDocks({dashboard_dock_}, {window_.height() / 2}, Qt::Vertical);
  const bool started = controller_.start(std::move(request));
  window_.statusBar()->showMessage(
      started ? tr("Training %1: canvas edits apply on the next start").arg(session_.displayName()) : note, 8000);
  updateActions();
  return started;
}

void TrainingUi::pause() { controller_.pause(); }
void TrainingUi::resume() { controller_.resume(); }
void TrainingUi::stop() { controller_.stop(); }

void TrainingUi::saveCheckpointNow(const QString& path) {
  QString target = path;
  if (target.isEmpty()) {
    QDir dir(run_dir_);
    dir.mkpath("checkpoints");
    const int64_t step = dashboard_->metrics().steps.empty() ? 0 : dashboard_->metrics().steps.back().global_step;
    target = dir.filePath(QString("checkpoints/step-%1.safetensors").arg(step));
  }
  controller_.saveCheckpoint(target);
}

void TrainingUi::onFinished(const run::RunResult& result) {
  dashboard_->setFinished(result);
  updateActions();
  if (project_replaced_during_run_) {
    project_replaced_during_run_ = false;
    dashboard_->setHistoryFolder(runsFolder());
    window_.statusBar()->showMessage(
        tr("Training %1; the trained model is in %2 (another project was opened meanwhile)")
            .arg(QString::fromLatin1(run::run_status_name(result.status)), QDir::toNativeSeparators(run_dir_)),
        10000);
  } else if (result.status != run::RunStatus::Failed && !controller_.trainedWeights().empty()) {
    session_.weights = controller_.trainedWeights();
    continue_weights_->setEnabled(true);
    window_.statusBar()->showMessage(
        tr("Training %1: the trained weights are kept with the project (File ▸ Save writes them)")
            .arg(QString::fromLatin1(run::run_status_name(result.status))),
        10000);
  } else {
    window_.statusBar()->showMessage(tr("Training failed: %1").arg(QString::fromStdString(result.message)), 10000);
  }
}

void TrainingUi::updateSparklines(const std::map<std::string, std::vector<double>>& norms) {
  if (!scene_) return;
  for (const auto& [module, values] : norms) {
    auto it = node_of_module_.find(module);
    if (it == node_of_module_.end()) continue;
    editor::NodeItem* item = scene_->nodeItem(it->second);
    if (!item) continue;  // deleted on the canvas since the run started
    GradientSparkline::of(item, true)->setNorms(values);
  }
}

void TrainingUi::clearSparklines() {
  if (!scene_) return;
  for (QGraphicsItem* item : scene_->items())
    if (item->type() == GradientSparkline::Type) delete item;
}

}  // namespace nl::app
