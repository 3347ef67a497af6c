// Renders an example project's canvas offscreen to PNGs for docs/screenshots: the whole
// graph fitted to a 1400×600 view, and the first layers at 100 % zoom.
//
//   QT_QPA_PLATFORM=offscreen netloom_canvas_screenshot resources/examples/shapes_cnn.netloom docs/screenshots
#include <QApplication>
#include <QDir>
#include <QPixmap>
#include <cstdio>

#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"
#include "editor/graph_document.h"
#include "engine/project/project.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PROJECT.netloom OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    nl::editor::GraphDocument doc;
    doc.reset(nl::project::load_project(argv[1]).graph);
    nl::editor::GraphScene scene(doc);
    nl::editor::GraphView view(&scene);
    view.resize(1400, 600);
    view.show();
    QApplication::processEvents();
    QDir out(argv[2]);
    view.fitToView();
    QApplication::processEvents();
    QString fitted = out.filePath("editor-canvas.png");
    if (!view.grab().save(fitted)) throw std::runtime_error("cannot write " + fitted.toStdString());
    view.resetTransform();
    QRectF bounds = scene.itemsBoundingRect();
    view.centerOn(bounds.left() + 700 - 40, bounds.center().y());
    QApplication::processEvents();
    QString detail = out.filePath("editor-canvas-detail.png");
    if (!view.grab().save(detail)) throw std::runtime_error("cannot write " + detail.toStdString());
    std::printf("%s\n%s\n", qPrintable(fitted), qPrintable(detail));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
