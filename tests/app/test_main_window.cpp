// The main window driven as a user drives it, offscreen: open an example through the File
// code path, edit in the inspector with real key events, watch the summary and problems
// docks follow, filter the palette, save and read the file back, recent files.
#include <QApplication>

#include "gui_test_main.h"
#include <QCheckBox>
#include <QDockWidget>
#include <QLineEdit>
#include <QMimeData>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include "app/gui/main_window.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/node_item.h"
#include "editor/panels/inspector_widget.h"
#include "editor/panels/layer_tree.h"
#include "editor/panels/palette_widget.h"
#include "editor/panels/problems_widget.h"
#include "editor/panels/summary_widget.h"
#include "engine/project/project.h"

using namespace nl;
using nl::app::MainWindow;

namespace {

const QString kExample = QStringLiteral(NETLOOM_EXAMPLES_DIR "/shapes_cnn.netloom");

// Types into a line edit (or spin box) as a user does: select all, the text, Enter.
void retype(QWidget* w, const QString& text) {
  w->setFocus();
  QTest::keyClick(w, Qt::Key_A, Qt::ControlModifier);
  QTest::keyClicks(w, text);
  QTest::keyClick(w, Qt::Key_Return);
}

graph::NodeId idOf(const graph::ModelGraph& g, const std::string& name) {
  const graph::Node* n = g.find_by_name(name);
  return n ? n->id : 0;
}

int64_t summaryParams(const editor::SummaryWidget* s, const QString& name) {
  QTableWidget* t = s->table();
  for (int r = 0; r < t->rowCount(); ++r)
    if (t->item(r, 0)->text() == name) return t->item(r, 3)->toolTip().toLongLong();
  return -1;
}

}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT

 private slots:
  void opensExampleWithTitle() {
    MainWindow w;
    w.show();
    QVERIFY(w.openProject(kExample));
    std::string name = project::load_project(kExample.toStdString()).name;
    QCOMPARE(w.windowTitle(), QString::fromStdString(name) + " — Netloom");
    QVERIFY(w.document().graph().size() > 10);
    QCOMPARE(w.scene()->nodeItem(idOf(w.document().graph(), "fc1")) != nullptr, true);
  }

  void editMarksDirtyAndUndoCleans() {
    MainWindow w;
    w.show();
    QVERIFY(w.openProject(kExample));
    QVERIFY(!w.windowTitle().contains('*'));
    w.document().renameNode(idOf(w.document().graph(), "fc1"), "dense");
    QVERIFY(w.windowTitle().contains("* — Netloom"));
    w.document().undoStack()->undo();
    QVERIFY(!w.windowTitle().contains('*'));
  }

  void refusedOpenKeepsProject() {
    MainWindow w;
    w.show();
    QVERIFY(w.openProject(kExample));
    QString title = w.windowTitle();
    QVERIFY(!w.openProject("/nonexistent/none.netloom"));
    QCOMPARE(w.windowTitle(), title);
    QVERIFY(w.document().graph().find_by_name("fc1"));
  }

  void paletteFilterAndDrag() {
    MainWindow w;
    w.show();
    editor::PaletteWidget* p = w.palette();
    int all = p->visibleTypes().size();
    QVERIFY(all > 20);
    p->filterEdit()->setFocus();
    QTest::keyClicks(p->filterEdit(), "CONV");
    QStringList shown = p->visibleTypes();
    QVERIFY(shown.contains("Conv2d"));
    QVERIFY(!shown.contains("Linear"));
    QVERIFY(shown.size() < all);
    for (const QString& t : shown) QVERIFY2(t.contains("Conv", Qt::CaseInsensitive), qPrintable(t));
    // A drag carries the layer type under the canvas' mime type.
    QTreeWidgetItem* conv = p->tree()->findItems("Conv2d", Qt::MatchExactly | Qt::MatchRecursive).value(0);
    QVERIFY(conv);
    std::unique_ptr<QMimeData> mime(p->tree()->model()->mimeData({p->tree()->indexFromItem(conv)}));
    QVERIFY(mime);
    QCOMPARE(mime->data(editor::kLayerMimeType), QByteArray("Conv2d"));
    // Enter in the filter box adds the first match at the view centre, selected.
    size_t before = w.document().graph().size();
    p->filterEdit()->setText("linear");
    QTest::keyClick(p->filterEdit(), Qt::Key_Return);
    QCOMPARE(w.document().graph().size(), before + 1);
    std::vector<graph::NodeId> sel = w.scene()->selectedNodeIds();
    QCOMPARE(sel.size(), size_t{1});
    QCOMPARE(w.document().graph().node(sel[0]).type, std::string("Linear"));
    QCOMPARE(w.inspector()->node(), sel[0]);
  }

  void inspectorEditsAttribute() {
    MainWindow w;
    w.show();
    QVERIFY(w.openProject(kExample));
    graph::NodeId fc1 = idOf(w.document().graph(), "fc1");
    w.selectNode(fc1);
    QCOMPARE(w.inspector()->node(), fc1);
    auto* box = qobject_cast<QSpinBox*>(w.inspector()->editor("out_features"));
    QVERIFY(box);
    QCOMPARE(box->value(), 64);
    QVERIFY(box->minimum() >= 1);
    int64_t params_before = summaryParams(w.summary(), "fc1");
    QVERIFY(params_before > 0);
    QVERIFY(w.inspector()->analysisText().contains("N×64"));

    retype(box, "32");
    QCOMPARE(std::get<int64_t>(w.document().graph().attribute(fc1, "out_features")), int64_t{32});
    QCOMPARE(w.document().undoStack()->count(), 1);  // one undo step, not one per digit
    int64_t in_features = (params_before - 64) / 64;
    QCOMPARE(summaryParams(w.summary(), "fc1"), in_features * 32 + 32);
    QVERIFY(w.inspector()->analysisText().contains("N×32"));
    QVERIFY(w.windowTitle().contains('*'));

    // Checkboxes go through the document too: bias off drops the bias parameters.
    auto* bias = qobject_cast<QCheckBox*>(w.inspector()->editor("bias"));
    QVERIFY(bias);
    QTest::mouseClick(bias, Qt::LeftButton, {}, QPoint(8, bias->height() / 2));
    QCOMPARE(std::get<bool>(w.document().graph().attribute(fc1, "bias")), false);
    QCOMPARE(summaryParams(w.summary(), "fc1"), in_features * 32);

    w.document().undoStack()->undo();
    w.document().undoStack()->undo();
    QCOMPARE(box->value(), 64);
    QVERIFY(bias->isChecked());
  }

  void inspectorRefusalRevertsField() {
    MainWindow w;
    w.show();
    QVERIFY(w.openProject(kExample));
    graph::NodeId fc1 = idOf(w.document().graph(), "fc1");
    w.selectNode(fc1);
    QLineEdit* name = w.inspector()->nameEdit();
    QVERIFY(name);
    QCOMPARE(name->text(), QString("fc1"));
    retype(name, "fc2");  // already taken
    QCOMPARE(w.document().graph().node(fc1).name, std::string("fc1"));
    QCOMPARE(name->text(), QString("fc1"));
    QVERIFY2(!w.inspector()->refusal().isEmpty(), "the reason is shown");
    QCOMPARE(w.document().undoStack()->count(), 0);
    QVERIFY(!w.windowTitle().contains('*'));

    // A list that is not a list of numbers is refused before it reaches the document.
    w.selectNode(idOf(w.document().graph(), "block1_conv"));
    auto* kernel = qobject_cast<QLineEdit*>(w.inspector()->editor("kernel_size"));
    QVERIFY(kernel);
    QString before = kernel->text();
    retype(kernel, "3, x");
    QVERIFY(w.inspector()->refusal().contains("kernel_size"));
    QCOMPARE(kernel->text(), before);
    QCOMPARE(w.document().undoStack()->count(), 0);

    // The next accepted change clears the reason.
    retype(kernel, "5, 5");
    QVERIFY(w.inspector()->refusal().isEmpty());
    QCOMPARE(w.document().undoStack()->count(), 1);
  }

  void problemsListAndActivate() {
    MainWindow w;
    w.show();
    QVERIFY(w.openProject(kExample));
    QCOMPARE(w.problems()->errorCount(), 0);
    // A Linear with nothing on its input is an error on that node.
    auto added = w.document().addNode("Linear", "loose", {}, {});
    QVERIFY(added);
    QVERIFY(w.problems()->errorCount() > 0);
    QTreeWidget* list = w.problems()->list();
    QTreeWidgetItem* row = nullptr;
    for (int i = 0; i < list->topLevelItemCount(); ++i)
      if (list->topLevelItem(i)->text(0) == "loose") row = list->topLevelItem(i);
    QVERIFY(row);
    QVERIFY(w.problemsDock()->windowTitle().contains("("));
    w.problemsDock()->show();
    w.problemsDock()->raise();
    list->setFocus();
    list->setCurrentItem(row);
    w.scene()->clearSelection();
    QTest::keyClick(list->viewport(), Qt::Key_Return);
    std::vector<graph::NodeId> sel = w.scene()->selectedNodeIds();
    QCOMPARE(sel.size(), size_t{1});
    QCOMPARE(sel[0], added.value);
    QCOMPARE(w.inspector()->node(), added.value);
    QVERIFY(w.inspector()->messagesText().contains("Error"));
  }

  void saveReadsBackAndIsRecent() {
    QTemporaryDir dir;
    MainWindow w;
    w.show();
    QVERIFY(w.newFromTemplate(kExample));
    QVERIFY2(w.session().path.isEmpty(), "a template is a new project");
    w.document().setAttribute(idOf(w.document().graph(), "fc1"), "out_features", int64_t{48});
    QVERIFY(w.windowTitle().contains('*'));
    QString path = dir.filePath("mine.netloom");
    QVERIFY(w.saveProjectAs(path));
    QVERIFY(!w.windowTitle().contains('*'));
    project::Project original = project::load_project(kExample.toStdString());
    project::Project back = project::load_project(path.toStdString());
    QVERIFY(back.graph == w.document().graph());
    QCOMPARE(back.name, original.name);
    QVERIFY(back.training == original.training);
    QCOMPARE(w.recentFiles().value(0), QFileInfo(path).absoluteFilePath());
    // Save (not As) now writes to that file.
    w.document().renameNode(idOf(w.document().graph(), "fc2"), "head");
    QVERIFY(w.saveProject());
    QVERIFY(project::load_project(path.toStdString()).graph.find_by_name("head"));
  }
};

NETLOOM_GUI_TEST_MAIN(TestMainWindow)

#include "test_main_window.moc"
