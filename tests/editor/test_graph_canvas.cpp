// Canvas tests with real mouse and key events on the view's viewport (offscreen): wiring port
// to port, a refused wire, dragging nodes, Delete, and the shape labels on edges.
#include <QApplication>
#include <QTest>

#include "editor/canvas/edge_item.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"
#include "editor/canvas/node_item.h"
#include "editor/canvas/port_item.h"
#include "editor/graph_document.h"

using namespace nl::graph;
using namespace nl::editor;

namespace {

// A document, scene and view shown at 100 % with every node in sight.
struct Canvas {
  GraphDocument doc;
  GraphScene scene{doc};
  GraphView view{&scene};
  NodeId in = 0, fc = 0, relu = 0, in2 = 0;

  Canvas() {
    in = doc.addNode("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}, {0, 0}).value;
    fc = doc.addNode("Linear", "fc", {{"out_features", int64_t{16}}}, {250, 0}).value;
    relu = doc.addNode("ReLU", "act", {}, {500, 0}).value;
    in2 = doc.addNode("Input", "x2", {{"shape", std::vector<int64_t>{-1, 4}}}, {0, 150}).value;
    doc.undoStack()->clear();
    view.resize(900, 500);
    view.show();
    view.centerOn(scene.itemsBoundingRect().center());
    QApplication::processEvents();
  }

  QPoint at(QPointF scene_pos) const { return view.mapFromScene(scene_pos); }
  QPoint output(NodeId id, int port = 0) const { return at(scene.nodeItem(id)->outputPort(port)->scenePos()); }
  QPoint input(NodeId id, int slot = 0) const { return at(scene.nodeItem(id)->inputPort(slot)->scenePos()); }

  // Press, move in a few steps (as a hand does), release.
  void drag(QPoint from, QPoint to) {
    QWidget* vp = view.viewport();
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, from);
    for (int i = 1; i <= 4; ++i) QTest::mouseMove(vp, from + (to - from) * i / 4);
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, to);
    QApplication::processEvents();
  }
};

}  // namespace

class TestGraphCanvas : public QObject {
  Q_OBJECT

 private slots:
  void sceneFollowsTheDocument() {
    Canvas c;
    QVERIFY(c.scene.nodeItem(c.fc));
    QVERIFY(c.doc.connectPorts({{c.in, 0}, {c.fc, 0}}).ok);
    QCOMPARE(c.scene.edgeCount(), size_t{1});
    c.doc.undoStack()->undo();
    QCOMPARE(c.scene.edgeCount(), size_t{0});
    QVERIFY(c.doc.removeItems({c.fc}).ok);
    QVERIFY(!c.scene.nodeItem(c.fc));
    c.doc.undoStack()->undo();
    QVERIFY(c.scene.nodeItem(c.fc));
  }

  void dragOutputToInputConnectsOnceAndUndoRemoves() {
    Canvas c;
    c.drag(c.output(c.in), c.input(c.fc));
    QCOMPARE(c.doc.graph().edges().size(), size_t{1});
    QVERIFY(c.doc.graph().edge_into({c.fc, 0}) == (Edge{{c.in, 0}, {c.fc, 0}}));
    QCOMPARE(c.scene.edgeCount(), size_t{1});
    QCOMPARE(c.doc.undoStack()->count(), 1);
    // The positions of the nodes did not change: the press on a port is not a node drag.
    QCOMPARE(c.doc.graph().node(c.in).ui.x, 0.0);
    c.doc.undoStack()->undo();
    QVERIFY(c.doc.graph().edges().empty());
    QCOMPARE(c.scene.edgeCount(), size_t{0});
  }

  void edgeLabelsShowTheInferredShape() {
    Canvas c;
    c.drag(c.output(c.in), c.input(c.fc));
    c.drag(c.output(c.fc), c.input(c.relu));
    EdgeItem* first = c.scene.edgeItem({{c.in, 0}, {c.fc, 0}});
    EdgeItem* second = c.scene.edgeItem({{c.fc, 0}, {c.relu, 0}});
    QVERIFY(first && second);
    QCOMPARE(first->label(), QString("N×8"));
    QCOMPARE(second->label(), QString("N×16"));
    // An attribute change upstream relabels the edge below it.
    QVERIFY(c.doc.setAttribute(c.fc, "out_features", int64_t{32}).ok);
    QCOMPARE(second->label(), QString("N×32"));
    QVERIFY(!second->isBlamed());
  }

  void wireToAnOccupiedInputIsRefusedWithTheReason() {
    Canvas c;
    QString status;
    connect(&c.scene, &GraphScene::statusMessage, [&](const QString& s) { status = s; });
    c.drag(c.output(c.in), c.input(c.fc));
    QCOMPARE(c.doc.undoStack()->count(), 1);
    // While dragging from x2, fc's occupied input is not highlighted and relu's free one is.
    QWidget* vp = c.view.viewport();
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, c.output(c.in2));
    QTest::mouseMove(vp, c.output(c.in2) + QPoint(40, -20));
    QCOMPARE(c.scene.nodeItem(c.fc)->inputPort(0)->highlight(), PortItem::Highlight::Incompatible);
    QCOMPARE(c.scene.nodeItem(c.relu)->inputPort(0)->highlight(), PortItem::Highlight::Compatible);
    QTest::mouseMove(vp, c.input(c.fc));
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, c.input(c.fc));
    QCOMPARE(c.doc.graph().edges().size(), size_t{1});
    QCOMPARE(c.doc.undoStack()->count(), 1);
    QVERIFY2(status.contains("already connected"), qPrintable(status));
    QCOMPARE(status, c.doc.lastError());
    QCOMPARE(c.scene.nodeItem(c.relu)->inputPort(0)->highlight(), PortItem::Highlight::None);
  }

  void draggingANodeMovesItAndOneUndoPutsItBack() {
    Canvas c;
    c.drag(c.output(c.in), c.input(c.fc));
    NodeItem* node = c.scene.nodeItem(c.fc);
    QPoint grip = c.at(node->scenePos() + QPointF(40, 10));  // on the header, away from ports
    c.drag(grip, grip + QPoint(60, 80));
    // Dragged to (310, 80); the drop snaps to the 20 px grid, within the same undo step.
    const NodeUi& ui = c.doc.graph().node(c.fc).ui;
    QCOMPARE(ui.x, 320.0);
    QCOMPARE(ui.y, 80.0);
    QCOMPARE(node->pos(), QPointF(320, 80));
    // The edge followed the node's input port.
    EdgeItem* edge = c.scene.edgeItem({{c.in, 0}, {c.fc, 0}});
    QVERIFY(edge->boundingRect().contains(node->inputPort(0)->scenePos()));
    QCOMPARE(c.doc.undoStack()->count(), 2);  // connect + one merged move
    // Without snapping the node stays where the mouse left it.
    c.view.setSnapToGrid(false);
    c.drag(c.at(node->scenePos() + QPointF(40, 10)), c.at(node->scenePos() + QPointF(40 + 13, 10 + 7)));
    QCOMPARE(c.doc.graph().node(c.fc).ui.x, 333.0);
    QCOMPARE(c.doc.graph().node(c.fc).ui.y, 87.0);
    c.doc.undoStack()->undo();
    c.doc.undoStack()->undo();
    QCOMPARE(c.doc.graph().node(c.fc).ui.x, 250.0);
    QCOMPARE(c.doc.graph().node(c.fc).ui.y, 0.0);
    QCOMPARE(node->pos(), QPointF(250, 0));
  }

  void deleteKeyRemovesTheSelectionInOneStep() {
    Canvas c;
    c.drag(c.output(c.in), c.input(c.fc));
    c.drag(c.output(c.fc), c.input(c.relu));
    ModelGraph before = c.doc.graph();
    c.scene.nodeItem(c.fc)->setSelected(true);
    c.scene.nodeItem(c.relu)->setSelected(true);
    c.view.setFocus();
    QTest::keyClick(c.view.viewport(), Qt::Key_Delete);
    QVERIFY(!c.doc.graph().find(c.fc));
    QVERIFY(!c.doc.graph().find(c.relu));
    QVERIFY(c.doc.graph().edges().empty());
    QCOMPARE(c.scene.edgeCount(), size_t{0});
    c.doc.undoStack()->undo();
    QVERIFY(c.doc.graph() == before);
    QCOMPARE(c.scene.edgeCount(), size_t{2});
  }

  void rubberBandSelects() {
    Canvas c;
    // From empty canvas above-left of the first row to below the middle of the second node.
    QPoint from = c.at(QPointF(-60, -60)), to = c.at(QPointF(300, 40));
    QWidget* vp = c.view.viewport();
    QTest::mousePress(vp, Qt::LeftButton, Qt::NoModifier, from);
    for (int i = 1; i <= 4; ++i) QTest::mouseMove(vp, from + (to - from) * i / 4);
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::NoModifier, to);
    std::vector<NodeId> ids = c.scene.selectedNodeIds();
    std::sort(ids.begin(), ids.end());
    QCOMPARE(ids, (std::vector<NodeId>{c.in, c.fc}));
  }

  void errorBadgeAndRedEdge() {
    Canvas c;
    // Conv2d needs N×C×H×W: fed N×8 it fails and blames its input.
    NodeId conv = c.doc.addNode("Conv2d", "conv", {{"out_channels", int64_t{4}}}, {250, 300}).value;
    c.drag(c.output(c.in), c.input(conv));
    QVERIFY(c.scene.nodeItem(conv)->hasError());
    QVERIFY(!c.scene.nodeItem(conv)->problem().isEmpty());
    EdgeItem* edge = c.scene.edgeItem({{c.in, 0}, {conv, 0}});
    QVERIFY(edge);
    QVERIFY(edge->isBlamed());
  }

  void wheelZoomsAroundTheCursor() {
    Canvas c;
    QPoint cursor = c.input(c.fc);
    QPointF under = c.view.mapToScene(cursor);
    QWheelEvent wheel(cursor, c.view.viewport()->mapToGlobal(cursor), QPoint(), QPoint(0, 240), Qt::NoButton,
                      Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(c.view.viewport(), &wheel);
    QVERIFY(c.view.zoom() > 1.2);
    QPointF after = c.view.mapToScene(cursor);
    QVERIFY2(QLineF(under, after).length() < 3, qPrintable(QString("%1,%2").arg(after.x()).arg(after.y())));
  }
};

QTEST_MAIN(TestGraphCanvas)
#include "test_graph_canvas.moc"
