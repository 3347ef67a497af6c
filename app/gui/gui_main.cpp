// The GUI's entry point.
#include "app/gui/gui_main.h"

#include <QApplication>

#include "app/gui/main_window.h"

namespace nl::app {

int run_gui(int& argc, char** argv, const QString& project_path) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("Netloom");
  QApplication::setApplicationName("Netloom");
  MainWindow window;
  window.show();
  if (project_path.isEmpty() || !window.openProject(project_path)) window.showStartPage();
  return QApplication::exec();
}

}  // namespace nl::app
