// File ▸ Import ONNX… and Export ONNX… in the main window, offscreen: an exported example
// imports as a new unsaved project, is laid out off the UI thread (positions change while
// the window stays responsive), exports back to a file the importer reads with the same
// layers, and a broken file leaves the open project untouched.
#include <QApplication>

#include "gui_test_main.h"
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

#include <fstream>

#include "app/gui/main_window.h"
#include "editor/panels/inspector_widget.h"
#include "engine/project/project.h"
#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_export.h"
#include "importers/onnx/onnx_import.h"

using namespace nl;
using nl::app::MainWindow;

namespace {
const QString kExample = QStringLiteral(NETLOOM_EXAMPLES_DIR "/shapes_cnn.netloom");
}

class TestOnnxGui : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

  // The example exported with its own weights, as a user's .onnx file.
  QString exportedExample() {
    project::Project p = project::load_project(kExample.toStdString());
    run::GraphExecutor executor;
    auto model = executor.build(p.graph);
    model->load_weights(p.weights);
    QString path = dir_.filePath("shapes.onnx");
    importers::save_onnx(p.graph, model->state_dict(), path.toStdString());
    return path;
  }

 private slots:
  void importLaysOutAndExportsBack() {
    QString onnx = exportedExample();
    MainWindow w;
    w.show();
    QVERIFY(w.importOnnx(onnx));
    const graph::ModelGraph& g = w.document().graph();
    QVERIFY(g.find_by_name("block1_conv") && g.find_by_name("fc1"));
    QVERIFY(w.session().path.isEmpty());  // a new project: Save asks where
    QVERIFY(!w.session().weights.empty());
    // The importer's left-to-right columns are replaced by the auto-layout, which runs on
    // a worker thread and lands as one undoable move.
    std::map<graph::NodeId, graph::NodeUi> before;
    for (const auto& [id, n] : g.nodes()) before[id] = n.ui;
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
          for (const auto& [id, n] : w.document().graph().nodes())
            if (!(n.ui == before[id])) return true;
          return false;
        }(),
        20000);

    QString out = dir_.filePath("again.onnx");
    QVERIFY(w.exportOnnx(out));
    project::Project back = importers::import_onnx(out.toStdString());
    QCOMPARE(back.graph.size(), g.size());
    for (const auto& [id, n] : g.nodes()) {
      const graph::Node* m = back.graph.find_by_name(n.name);
      QVERIFY2(m && m->type == n.type, n.name.c_str());
    }
  }

  // A generic OnnxOp node shows its ONNX attributes in the inspector, editable.
  void inspectorShowsOnnxAttributes() {
    graph::ModelGraph g;
    graph::NodeId x = g.add_node("Input", "x", {{"shape", std::vector<int64_t>{-1, 3, 4}}}).value;
    graph::NodeId op = g.add_node("OnnxOp", "soft", {{"op_type", std::string("LogSoftmax")}, {"axis", int64_t{1}}}).value;
    graph::NodeId y = g.add_node("Output", "y").value;
    QVERIFY(g.connect({{x, 0}, {op, 0}}));
    QVERIFY(g.connect({{op, 0}, {y, 0}}));
    QString path = dir_.filePath("logsoftmax.onnx");
    importers::save_onnx(g, {}, path.toStdString());
    MainWindow w;
    w.show();
    QVERIFY(w.importOnnx(path));
    const graph::Node* node = w.document().graph().find_by_name("soft");
    QVERIFY(node && node->type == "OnnxOp");
    w.selectNode(node->id);
    auto* axis = qobject_cast<QSpinBox*>(w.inspector()->editor("axis"));
    QVERIFY(axis);
    QCOMPARE(axis->value(), 1);
    axis->setValue(2);  // the user edits the ONNX attribute like any other
    QCOMPARE(std::get<int64_t>(w.document().graph().find_by_name("soft")->attrs.at("axis")), int64_t{2});
  }

  void brokenFileKeepsProject() {
    MainWindow w;
    w.show();
    QVERIFY(w.openProject(kExample));
    QString title = w.windowTitle();
    QString bad = dir_.filePath("bad.onnx");
    std::ofstream(bad.toStdString()) << "not a model";
    QVERIFY(!w.importOnnx(bad));
    QCOMPARE(w.windowTitle(), title);
    QVERIFY(w.document().graph().find_by_name("fc1"));
  }
};

NETLOOM_GUI_TEST_MAIN(TestOnnxGui)

#include "test_onnx_gui.moc"
