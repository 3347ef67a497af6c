// The main() of the window tests: settings (recent files, geometry, theme) go to a scratch
// folder, never the user's, and the application has Netloom's names as the real one does.
//
//   NETLOOM_GUI_TEST_MAIN(TestStartPage)
#pragma once
#include <QApplication>
#include <QTemporaryDir>
#include <QTest>

#define NETLOOM_GUI_TEST_MAIN(TestClass)                         \
  int main(int argc, char** argv) {                              \
    QTemporaryDir config;                                        \
    qputenv("XDG_CONFIG_HOME", config.path().toUtf8());          \
    QApplication app(argc, argv);                                \
    QApplication::setOrganizationName("Netloom");                \
    QApplication::setApplicationName("Netloom");                 \
    TestClass t;                                                 \
    return QTest::qExec(&t, argc, argv);                         \
  }
