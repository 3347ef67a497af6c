// Trains an example project in the main window, offscreen, and renders the training
// dashboard for the docs: the whole window a third into the run, paused there (gradient
// sparklines on the canvas nodes, the dashboard dock), and the dashboard's tabs after it. Settings and runs go
// to scratch folders, so the pictures never depend on the user's files.
//
//   QT_QPA_PLATFORM=offscreen build/app/netloom_dashboard_screenshot \
//       resources/examples/spirals_mlp.netloom docs/screenshots [EPOCHS]
// writes dashboard.png, dashboard-layers.png, dashboard-validation.png and
// main-window-training.png into the folder; with "dark" after EPOCHS, dashboard-dark.png.
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QTabWidget>
#include <QTemporaryDir>
#include <cstdio>

#include "app/gui/main_window.h"
#include "app/gui/run/dashboard_widget.h"
#include "app/gui/run/train_settings_widget.h"
#include "app/gui/run/training_ui.h"
#include "editor/canvas/graph_view.h"
#include "engine/project/project.h"

namespace {

void settle(int ms) {
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 20);
}

bool save(QWidget* w, const QString& path) {
  if (!w->grab().save(path)) {
    std::fprintf(stderr, "error: cannot write %s\n", qPrintable(path));
    return false;
  }
  std::printf("%s\n", qPrintable(path));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: %s PROJECT.netloom OUTPUT_FOLDER [EPOCHS [light|dark]]\n", argv[0]);
    return 2;
  }
  QTemporaryDir scratch;
  qputenv("XDG_CONFIG_HOME", scratch.filePath("config").toUtf8());
  qputenv("XDG_DATA_HOME", scratch.filePath("data").toUtf8());
  QApplication app(argc, argv);
  QApplication::setOrganizationName("Netloom");
  QApplication::setApplicationName("Netloom");
  const QString out = QString::fromLocal8Bit(argv[2]);
  QDir().mkpath(out);

  // A copy of the project, so its runs folder lands in the scratch folder.
  const QString copy = scratch.filePath(QFileInfo(QString::fromLocal8Bit(argv[1])).fileName());
  try {
    nl::project::Project p = nl::project::load_project(argv[1]);
    if (argc >= 4) p.training.epochs = QString(argv[3]).toInt();
    nl::project::save_project(p, copy.toStdString());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  nl::app::MainWindow window;
  const bool dark = argc == 5 && QString(argv[4]) == "dark";
  window.setTheme(dark ? nl::app::Theme::Dark : nl::app::Theme::Light);
  window.resize(1600, 1000);
  window.show();
  if (!window.openProject(copy)) return 1;
  nl::app::TrainingUi* training = window.training();
  training->settingsDock()->raise();
  QDockWidget* layers = window.findChild<QDockWidget*>("paletteDock");
  if (layers) window.resizeDocks({layers, training->settingsDock()}, {200, 330}, Qt::Horizontal);
  window.resizeDocks({training->dashboardDock()}, {520}, Qt::Vertical);
  settle(200);
  window.view()->fitToView();

  bool finished = false;
  QObject::connect(training->controller(), &nl::app::RunController::finished, [&] { finished = true; });
  if (!training->start()) return 1;
  // During the run: wait until a third of the steps are done.
  const int64_t epochs = training->settingsWidget()->settings().epochs;
  QElapsedTimer clock;
  clock.start();
  while (!finished && clock.elapsed() < 120000) {
    const auto& steps = training->dashboard()->metrics().steps;
    if (!steps.empty() && steps.back().epoch * 3 >= epochs) break;
    settle(5);
  }
  // Paused there, so the picture shows the run mid-way however fast this machine is.
  training->pause();
  settle(150);
  training->dashboard()->redraw();
  window.view()->fitToView();
  settle(150);
  if (!dark && !save(&window, out + "/main-window-training.png")) return 1;
  training->resume();
  while (!finished && clock.elapsed() < 400000) settle(50);
  if (!finished) {
    std::fprintf(stderr, "error: the run did not finish\n");
    return 1;
  }

  // After the run: the dashboard on its own, one picture per tab.
  nl::app::DashboardWidget* d = training->dashboard();
  training->dashboardDock()->setFloating(true);
  training->dashboardDock()->resize(1400, 860);
  d->redraw();
  settle(200);
  const char* names[] = {"dashboard.png", "dashboard-layers.png", "dashboard-validation.png"};
  if (dark) {  // one picture: the metrics in the dark theme
    if (!save(d, out + "/dashboard-dark.png")) return 1;
    return 0;
  }
  for (int tab = 0; tab < 3; ++tab) {
    d->tabs()->setCurrentIndex(tab);
    settle(150);
    if (!save(d, out + "/" + names[tab])) return 1;
  }
  return 0;
}
