// Renders the main window with an example project at 1600×900, offscreen, for the docs.
// Settings go to a scratch folder so the picture never depends on the user's saved layout.
//
//   QT_QPA_PLATFORM=offscreen build/app/netloom_main_window_screenshot \
//       resources/examples/shapes_cnn.netloom docs/screenshots/main-window.png [light|dark]
//   (--start-page in place of the project renders the start page.)
#include <QApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <cstdio>

#include "app/gui/main_window.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s PROJECT.netloom|--start-page OUTPUT.png [light|dark]\n", argv[0]);
    return 2;
  }
  QTemporaryDir config;
  qputenv("XDG_CONFIG_HOME", config.path().toUtf8());
  QApplication app(argc, argv);
  QApplication::setOrganizationName("Netloom");
  QApplication::setApplicationName("Netloom");
  nl::app::MainWindow window;
  window.setTheme(nl::app::theme_from_name(argc == 4 ? argv[3] : "light"));
  window.resize(1600, 900);
  window.show();
  if (QString(argv[1]) == "--start-page") {
    window.showStartPage();
    for (int i = 0; i < 5; ++i) QApplication::processEvents();
    window.grab().save(QString::fromLocal8Bit(argv[2]));
    std::printf("%s\n", argv[2]);
    return 0;
  }
  if (!window.openProject(QString::fromLocal8Bit(argv[1]))) return 1;
  // Let layout, the fit-to-view queued by openProject and painting settle.
  for (int i = 0; i < 5; ++i) QApplication::processEvents();
  window.view()->fitToView();
  // Show what a user sees after clicking a node: the inspector filled in.
  std::vector<nl::graph::NodeId> ids = window.document().graph().topological_order();
  if (ids.size() > 2) window.selectNode(ids[2]);
  window.view()->fitToView();
  // The minimap re-renders its picture once changes pause (a quarter of a second).
  QElapsedTimer settle;
  settle.start();
  while (settle.elapsed() < 600) QApplication::processEvents(QEventLoop::AllEvents, 50);
  if (!window.grab().save(QString::fromLocal8Bit(argv[2]))) {
    std::fprintf(stderr, "error: cannot write %s\n", argv[2]);
    return 1;
  }
  std::printf("%s\n", argv[2]);
  return 0;
}
