// Training in the main window: the Train menu and toolbar (Start, Pause, Stop, Save
// Checkpoint Now, Resume from Checkpoint), the Train Settings dock bound to the project's
// training settings, the Training dock with the dashboard, gradient sparklines on the canvas
// nodes, and the project's run history folder. The main window creates one and otherwise
// leaves training to it.
//
// Canvas edits during a run do not reach the run (it trains the snapshot taken at Start);
// they apply on the next start, and the dashboard says so.
#pragma once
#include <QObject>
#include <QPointer>
#include <QString>

#include "app/gui/project_session.h"
#include "app/gui/run/run_controller.h"

class QAction;
class QCheckBox;
class QDockWidget;
class QMainWindow;
class QToolBar;

namespace nl::editor {
class GraphDocument;
class GraphScene;
}  // namespace nl::editor

namespace nl::app {

class DashboardWidget;
class TrainSettingsWidget;

class TrainingUi : public QObject {
  Q_OBJECT

 public:
  TrainingUi(QMainWindow& window, editor::GraphDocument& doc, ProjectSession& session, editor::GraphScene* scene);
  ~TrainingUi() override;

  // Train ▸ Start: trains a snapshot of the document's graph with the project's settings.
  // False (with the reason in the dashboard) when a run is active or cannot start.
  bool start();
  // Train ▸ Resume from Checkpoint with the file chosen.
  bool startFromCheckpoint(const QString& checkpoint);
  void pause();
  void resume();
  void stop();
  // Train ▸ Save Checkpoint Now: into the run's folder (checkpoints/step-N.safetensors)
  // unless a path is given.
  void saveCheckpointNow(const QString& path = QString());

  // Where this project's runs are kept: "<project folder>/<name>.runs" for a saved project,
  // else the user's data folder.
  QString runsFolder() const;
  QString currentRunFolder() const { return run_dir_; }

  RunController* controller() { return &controller_; }
  DashboardWidget* dashboard() const { return dashboard_; }
  TrainSettingsWidget* settingsWidget() const { return settings_; }
  QDockWidget* dashboardDock() const { return dashboard_dock_; }
  QDockWidget* settingsDock() const { return settings_dock_; }
  QAction* startAction() const { return start_; }
  QAction* pauseAction() const { return pause_; }
  QAction* stopAction() const { return stop_; }
  QAction* checkpointAction() const { return checkpoint_; }
  QAction* resumeFromCheckpointAction() const { return resume_from_; }
  QCheckBox* continueFromWeightsCheck() const { return continue_weights_; }

 private:
  bool startRun(const QString& checkpoint);
  void projectChanged();
  void updateActions();
  void onFinished(const run::RunResult& result);
  void updateSparklines(const std::map<std::string, std::vector<double>>& norms);
  void clearSparklines();

  QMainWindow& window_;
  editor::GraphDocument& doc_;
  ProjectSession& session_;
  QPointer<editor::GraphScene> scene_;
  RunController controller_;
  DashboardWidget* dashboard_;
  TrainSettingsWidget* settings_;
  QCheckBox* continue_weights_;
  QDockWidget *dashboard_dock_, *settings_dock_;
  QAction *start_, *pause_, *stop_, *checkpoint_, *resume_from_;
  QString run_dir_;
  bool project_replaced_during_run_ = false;
  std::map<std::string, graph::NodeId> node_of_module_;  // the running snapshot's layers
};

}  // namespace nl::app
