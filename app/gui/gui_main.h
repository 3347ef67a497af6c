// Starting the GUI: the QApplication with Netloom's settings identity and theme, and the
// main window, optionally opening a project.
#pragma once
#include <QString>

namespace nl::app {

// Runs the event loop until the main window closes; the exit status.
int run_gui(int& argc, char** argv, const QString& project_path);

}  // namespace nl::app
