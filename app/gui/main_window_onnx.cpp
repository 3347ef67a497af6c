// File ▸ Import ONNX… and Export ONNX…: the same importer and exporter as `netloom import`
// and `netloom export`. An imported model opens as a new, unsaved project and is laid out by
// AutoLayout on its worker thread, so a large model does not freeze the window.
#include <QFileDialog>
#include <QFileInfo>
#include <QStatusBar>

#include "app/gui/main_window.h"
#include "editor/graph_document.h"
#include "editor/layout/auto_layout.h"
#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_export.h"
#include "importers/onnx/onnx_import.h"

namespace nl::app {

bool MainWindow::importOnnx(const QString& path) {
  try {
    project::Project p = importers::import_onnx(path.toStdString());
    session_ = ProjectSession::from(p, QString());
    if (session_.name.empty()) session_.name = QFileInfo(path).completeBaseName().toStdString();
    doc_.reset(std::move(p.graph));
  } catch (const std::exception& e) {
    reportError(tr("Cannot import ONNX model"), QString::fromUtf8(e.what()));
    return false;
  }
  updateTitle();
  layout_->start(editor::LayoutDirection::LeftToRight);
  statusBar()->showMessage(tr("Imported %1").arg(QDir::toNativeSeparators(path)), 5000);
  return true;
}

bool MainWindow::exportOnnx(const QString& path) {
  try {
    // The weights of the model as it stands: the session's, and fresh ones for layers added
    // since (what a build gives them), so an edited graph exports too.
    run::GraphExecutor executor;
    auto model = executor.build(doc_.graph());
    model->load_weights(session_.weights);
    importers::OnnxExportOptions o;
    o.model_name = session_.displayName().toStdString();
    o.doc_string = session_.description;
    importers::save_onnx(doc_.graph(), model->state_dict(), path.toStdString(), o);
  } catch (const std::exception& e) {
    reportError(tr("Cannot export ONNX model"), QString::fromUtf8(e.what()));
    return false;
  }
  statusBar()->showMessage(tr("Exported %1").arg(QDir::toNativeSeparators(path)), 5000);
  return true;
}

void MainWindow::importOnnxWithDialog() {
  if (!maybeSave()) return;
  QString path = QFileDialog::getOpenFileName(this, tr("Import ONNX Model"), QString(), tr("ONNX models (*.onnx)"));
  if (!path.isEmpty()) importOnnx(path);
}

void MainWindow::exportOnnxWithDialog() {
  QString suggested = session_.displayName() + ".onnx";
  QString path = QFileDialog::getSaveFileName(this, tr("Export ONNX Model"), suggested, tr("ONNX models (*.onnx)"));
  if (path.isEmpty()) return;
  if (!path.endsWith(".onnx", Qt::CaseInsensitive)) path += ".onnx";
  exportOnnx(path);
}

}  // namespace nl::app
