// Canvas editing with real events on the view (offscreen): palette drops, search-to-add
// (Tab, double-click, a wire let go on empty canvas), the clipboard between two documents,
// Ctrl+click, select all, align and space+drag panning.
#include <QApplication>
#include <QClipboard>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QTest>

#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"
#include "editor/canvas/node_item.h"
#include "editor/canvas/node_style.h"
#include "editor/canvas/port_item.h"
#include "editor/canvas/snippet_clipboard.h"
#include "editor/graph_document.h"
#include "editor/search/search_popup.h"

using namespace nl::graph;
using namespace nl::editor;

namespace {

struct Canvas {
  GraphDocument doc;
  GraphScene scene{doc};
  GraphView view{&scene};

  Canvas() {
    view.resize(900, 500);
    view.show();
    view.centerOn(0, 0);
    view.setFocus();
    QApplication::processEvents();
  }
  QPoint at(QPointF scene_pos) const { return view.mapFromScene(scene_pos); }
  // The nodes of one layer type.
  std::vector<const Node*> ofType(const std::string& type) const {
    std::vector<const Node*> out;
    for (const auto& [id, n] : doc.graph().nodes())
      if (n.type == type) out.push_back(&n);
    return out;
  }
  // True when the node's drawn rectangle covers the scene point.
  bool covers(const Node& n, QPointF p) const {
    return NodeLayout::of(doc, n.id).rect().translated(n.ui.x, n.ui.y).contains(p);
  }
  void hover(QPoint p) { QTest::mouseMove(view.viewport(), p); }
  void drag(QPoint from, QPoint to, Qt::KeyboardModifiers mods = Qt::NoModifier) {
    QWidget* vp = view.viewport();
    QTest::mousePress(vp, Qt::LeftButton, mods, from);
    for (int i = 1; i <= 4; ++i) QTest::mouseMove(vp, from + (to - from) * i / 4);
    QTest::mouseRelease(vp, Qt::LeftButton, mods, to);
    QApplication::processEvents();
  }
};

}  // namespace

class TestCanvasEditing : public QObject {
  Q_OBJECT

 private slots:
  void paletteDropAddsTheLayerWhereItIsDropped() {
    Canvas c;
    QMimeData mime;
    mime.setData(GraphView::kLayerMime, QByteArray("Conv2d"));
    QPoint pos = c.at(QPointF(100, 60));
    QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(c.view.viewport(), &enter);
    QVERIFY(enter.isAccepted());
    QDragMoveEvent move(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(c.view.viewport(), &move);
    QVERIFY(move.isAccepted());
    QDropEvent drop(QPointF(pos), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(c.view.viewport(), &drop);
    auto convs = c.ofType("Conv2d");
    QCOMPARE(convs.size(), size_t{1});
    QVERIFY(c.covers(*convs[0], QPointF(100, 60)));
    QVERIFY(c.scene.nodeItem(convs[0]->id));
    QCOMPARE(c.doc.undoStack()->count(), 1);
    c.doc.undoStack()->undo();
    QVERIFY(c.doc.graph().nodes().empty());
  }

  void unknownDragIsRefused() {
    Canvas c;
    QMimeData mime;
    mime.setData(GraphView::kLayerMime, QByteArray("NoSuchLayer"));
    QDragEnterEvent enter(c.at({0, 0}), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    enter.setAccepted(false);
    QApplication::sendEvent(c.view.viewport(), &enter);
    QVERIFY(!enter.isAccepted());
    QMimeData text;
    text.setText("Conv2d");
    QDropEvent drop(QPointF(c.at({0, 0})), Qt::CopyAction, &text, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(c.view.viewport(), &drop);
    QVERIFY(c.doc.graph().nodes().empty());
  }

  void tabTypeEnterAddsTheBestMatchUnderTheMouse() {
    Canvas c;
    QPoint p = c.at(QPointF(-150, 40));
    c.hover(p);
    QTest::keyClick(&c.view, Qt::Key_Tab);
    SearchPopup* popup = c.view.searchPopup();
    QVERIFY(popup->isVisible());
    QTest::keyClicks(popup->filterBox(), "conv");
    QCOMPARE(popup->listedTypes().first(), QString("Conv1d"));
    QTest::keyClicks(popup->filterBox(), "2");
    QCOMPARE(popup->listedTypes().first(), QString("Conv2d"));
    QVERIFY(popup->listedTypes().indexOf("ConvTranspose2d") > 0);
    QTest::keyClick(popup->filterBox(), Qt::Key_Return);
    QVERIFY(!popup->isVisible());
    auto convs = c.ofType("Conv2d");
    QCOMPARE(convs.size(), size_t{1});
    QVERIFY(c.covers(*convs[0], c.view.mapToScene(p)));
    QCOMPARE(c.doc.undoStack()->count(), 1);
  }

  void downArrowChoosesTheNextAndEscapeCloses() {
    Canvas c;
    QTest::keyClick(&c.view, Qt::Key_Tab);
    SearchPopup* popup = c.view.searchPopup();
    QTest::keyClicks(popup->filterBox(), "conv");
    QTest::keyClick(popup->filterBox(), Qt::Key_Down);
    QTest::keyClick(popup->filterBox(), Qt::Key_Enter);
    QCOMPARE(c.ofType("Conv2d").size(), size_t{1});  // the second of Conv1d, Conv2d
    QTest::keyClick(&c.view, Qt::Key_Tab);
    QVERIFY(popup->isVisible());
    QTest::keyClick(popup->filterBox(), Qt::Key_Escape);
    QVERIFY(!popup->isVisible());
    QCOMPARE(c.doc.graph().nodes().size(), size_t{1});
  }

  void doubleClickOnEmptyCanvasOpensSearchAndAClickChooses() {
    Canvas c;
    QPoint p = c.at(QPointF(200, -100));
    QTest::mouseDClick(c.view.viewport(), Qt::LeftButton, Qt::NoModifier, p);
    SearchPopup* popup = c.view.searchPopup();
    QVERIFY(popup->isVisible());
    QTest::keyClicks(popup->filterBox(), "relu6");
    QCOMPARE(popup->listedTypes().first(), QString("ReLU6"));
    QListWidget* list = popup->list();
    QRect row = list->visualItemRect(list->item(0));
    QTest::mouseClick(list->viewport(), Qt::LeftButton, Qt::NoModifier, row.center());
    auto relus = c.ofType("ReLU6");
    QCOMPARE(relus.size(), size_t{1});
    QVERIFY(c.covers(*relus[0], QPointF(200, -100)));
  }

  void wireDroppedOnEmptyCanvasAddsAConnectedLayerInOneStep() {
    Canvas c;
    NodeId in = c.doc.addNode("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}, {-300, 0}).value;
    c.doc.undoStack()->clear();
    QPoint from = c.at(c.scene.nodeItem(in)->outputPort(0)->scenePos());
    QPoint to = c.at(QPointF(100, 150));
    c.drag(from, to);
    SearchPopup* popup = c.view.searchPopup();
    QVERIFY(popup->isVisible());
    // Only layers with an input are offered to an output's wire.
    QVERIFY(!popup->listedTypes().contains("Input"));
    QVERIFY(popup->listedTypes().contains("Linear"));
    QTest::keyClicks(popup->filterBox(), "linear");
    QTest::keyClick(popup->filterBox(), Qt::Key_Return);
    auto fcs = c.ofType("Linear");
    QCOMPARE(fcs.size(), size_t{1});
    QVERIFY(c.covers(*fcs[0], QPointF(100, 150)));
    QCOMPARE(c.doc.graph().edges().size(), size_t{1});
    QVERIFY(c.doc.graph().edges()[0] == (Edge{{in, 0}, {fcs[0]->id, 0}}));
    QCOMPARE(c.doc.undoStack()->count(), 1);
    c.doc.undoStack()->undo();
    QCOMPARE(c.doc.graph().nodes().size(), size_t{1});
    QVERIFY(c.doc.graph().edges().empty());
    c.doc.undoStack()->redo();
    QCOMPARE(c.doc.graph().edges().size(), size_t{1});
  }

  void copyTwoConnectedNodesAndPasteIntoAnotherDocument() {
    Canvas a;
    NodeId fc = a.doc.addNode("Linear", "fc", {{"out_features", int64_t{32}}}, {0, 0}).value;
    NodeId act = a.doc.addNode("LeakyReLU", "act", {{"negative_slope", 0.2}}, {200, 0}).value;
    QVERIFY(a.doc.connectPorts({{fc, 0}, {act, 0}}).ok);
    a.scene.nodeItem(fc)->setSelected(true);
    a.scene.nodeItem(act)->setSelected(true);
    QTest::keyClick(&a.view, Qt::Key_C, Qt::ControlModifier);
    QVERIFY(QApplication::clipboard()->mimeData()->hasFormat(SnippetClipboard::kMime));
    QVERIFY(QApplication::clipboard()->text().contains("netloom-snippet"));

    a.view.hide();  // the second window is the one under the mouse
    Canvas b;
    NodeId taken = b.doc.addNode("Linear", "fc", {}, {0, 300}).value;  // "fc" is taken there
    b.doc.undoStack()->clear();
    ModelGraph before = b.doc.graph();
    QPoint p = b.at(QPointF(-200, -100));
    b.hover(p);
    QTest::keyClick(&b.view, Qt::Key_V, Qt::ControlModifier);
    QCOMPARE(b.doc.graph().nodes().size(), size_t{3});
    const Node* new_fc = nullptr;
    const Node* new_act = nullptr;
    for (const auto& [id, n] : b.doc.graph().nodes()) {
      if (id == taken) continue;
      (n.type == "Linear" ? new_fc : new_act) = &n;
    }
    QVERIFY(new_fc && new_act);
    QCOMPARE(new_act->type, std::string("LeakyReLU"));
    QVERIFY(new_fc->name != "fc");  // fresh, unique name
    QCOMPARE(new_act->name, std::string("act"));
    QVERIFY(new_fc->attrs.at("out_features") == AttrValue(int64_t{32}));
    QVERIFY(new_act->attrs.at("negative_slope") == AttrValue(0.2));
    QCOMPARE(b.doc.graph().edges().size(), size_t{1});
    QVERIFY(b.doc.graph().edges()[0] == (Edge{{new_fc->id, 0}, {new_act->id, 0}}));
    // The snippet's top-left lands under the mouse, keeping the nodes' spacing.
    QCOMPARE(QPointF(new_fc->ui.x, new_fc->ui.y), QPointF(-200, -100));
    QCOMPARE(new_act->ui.x - new_fc->ui.x, 200.0);
    QCOMPARE(b.scene.selectedNodeIds().size(), size_t{2});
    QCOMPARE(b.doc.undoStack()->count(), 1);
    b.doc.undoStack()->undo();
    QVERIFY(b.doc.graph() == before);
  }

  void cutIsOneStepAndPastesBack() {
    Canvas c;
    NodeId fc = c.doc.addNode("Linear", "fc", {}, {0, 0}).value;
    NodeId act = c.doc.addNode("ReLU", "act", {}, {200, 0}).value;
    c.doc.connectPorts({{fc, 0}, {act, 0}});
    c.doc.undoStack()->clear();
    ModelGraph before = c.doc.graph();
    QTest::keyClick(&c.view, Qt::Key_A, Qt::ControlModifier);
    QCOMPARE(c.scene.selectedNodeIds().size(), size_t{2});
    QTest::keyClick(&c.view, Qt::Key_X, Qt::ControlModifier);
    QVERIFY(c.doc.graph().nodes().empty());
    QCOMPARE(c.doc.undoStack()->count(), 1);
    c.doc.undoStack()->undo();
    QVERIFY(c.doc.graph() == before);
    c.doc.undoStack()->redo();
    c.view.pasteAt(QPointF(0, 0));
    QCOMPARE(c.doc.graph().nodes().size(), size_t{2});
    QCOMPARE(c.doc.graph().edges().size(), size_t{1});
    QCOMPARE(c.ofType("Linear")[0]->name, std::string("fc"));  // the name is free again
  }

  void duplicateKeepsTheClipboardAndOffsetsTheCopy() {
    Canvas c;
    NodeId fc = c.doc.addNode("Linear", "fc", {}, {0, 0}).value;
    QApplication::clipboard()->setText("unrelated");
    c.scene.nodeItem(fc)->setSelected(true);
    QTest::keyClick(&c.view, Qt::Key_D, Qt::ControlModifier);
    auto fcs = c.ofType("Linear");
    QCOMPARE(fcs.size(), size_t{2});
    const Node* copy = fcs[0]->id == fc ? fcs[1] : fcs[0];
    QCOMPARE(QPointF(copy->ui.x, copy->ui.y), QPointF(40, 40));
    QCOMPARE(c.scene.selectedNodeIds(), std::vector<NodeId>{copy->id});
    QCOMPARE(QApplication::clipboard()->text(), QString("unrelated"));
    // Pasting text that is no snippet changes nothing.
    QTest::keyClick(&c.view, Qt::Key_V, Qt::ControlModifier);
    QCOMPARE(c.doc.graph().nodes().size(), size_t{2});
  }

  void ctrlClickTogglesSelection() {
    Canvas c;
    NodeId a = c.doc.addNode("Linear", "a", {}, {0, 0}).value;
    NodeId b = c.doc.addNode("ReLU", "b", {}, {200, 0}).value;
    QPoint pa = c.at(QPointF(40, 10)), pb = c.at(QPointF(240, 10));
    QTest::mouseClick(c.view.viewport(), Qt::LeftButton, Qt::NoModifier, pa);
    QCOMPARE(c.scene.selectedNodeIds(), std::vector<NodeId>{a});
    QTest::mouseClick(c.view.viewport(), Qt::LeftButton, Qt::ControlModifier, pb);
    auto ids = c.scene.selectedNodeIds();
    std::sort(ids.begin(), ids.end());
    QCOMPARE(ids, (std::vector<NodeId>{a, b}));
    QTest::mouseClick(c.view.viewport(), Qt::LeftButton, Qt::ControlModifier, pa);
    QCOMPARE(c.scene.selectedNodeIds(), std::vector<NodeId>{b});
    // A plain click on a node does not move it, so it is not an undo step.
    QCOMPARE(c.doc.undoStack()->count(), 2);
  }

  void alignIsOneUndoStep() {
    Canvas c;
    NodeId a = c.doc.addNode("Linear", "a", {}, {0, 0}).value;
    NodeId b = c.doc.addNode("ReLU", "b", {}, {230, 75}).value;
    NodeId d = c.doc.addNode("ReLU", "d", {}, {-40, 160}).value;
    c.doc.undoStack()->clear();
    ModelGraph before = c.doc.graph();
    c.view.selectAll();
    c.view.alignSelection(GraphView::Alignment::Left);
    for (NodeId id : {a, b, d}) QCOMPARE(c.doc.graph().node(id).ui.x, -40.0);
    QCOMPARE(c.doc.graph().node(b).ui.y, 75.0);
    c.view.alignSelection(GraphView::Alignment::Top);
    for (NodeId id : {a, b, d}) QCOMPARE(c.doc.graph().node(id).ui.y, 0.0);
    QCOMPARE(c.doc.undoStack()->count(), 2);
    c.doc.undoStack()->undo();
    c.doc.undoStack()->undo();
    QVERIFY(c.doc.graph() == before);
    // Centres: equal node widths put every centre on the mean.
    c.view.alignSelection(GraphView::Alignment::HorizontalCentre);
    double x = c.doc.graph().node(a).ui.x;
    QCOMPARE(x, (0.0 + 230 - 40) / 3);
    QCOMPARE(c.doc.graph().node(d).ui.x, x);
  }

  void spaceDragPans() {
    Canvas c;
    NodeId a = c.doc.addNode("Linear", "a", {}, {0, 0}).value;
    QPointF centre = c.view.mapToScene(c.view.viewport()->rect().center());
    QTest::keyPress(&c.view, Qt::Key_Space);
    // Starting on the node: with space held this pans, it does not move the node.
    c.drag(c.at(QPointF(40, 10)), c.at(QPointF(40, 10)) + QPoint(100, 50));
    QTest::keyRelease(&c.view, Qt::Key_Space);
    QPointF after = c.view.mapToScene(c.view.viewport()->rect().center());
    QCOMPARE(after - centre, QPointF(-100, -50));
    QCOMPARE(c.doc.graph().node(a).ui.x, 0.0);
    QCOMPARE(c.doc.undoStack()->count(), 1);
  }
};

QTEST_MAIN(TestCanvasEditing)
#include "test_canvas_editing.moc"
