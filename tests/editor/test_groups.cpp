// Blocks of nodes on the canvas, driven by real mouse and key events (offscreen): Ctrl+click
// and Ctrl+G group, a double-click collapses and expands, the collapsed box carries the
// block's boundary edges and can be dragged and wired, Delete and Ctrl+Shift+G act on whole
// blocks; each is one undo step back to the exact document. Also pinch zoom.
#include <QApplication>
#include <QNativeGestureEvent>
#include <QPointingDevice>
#include <QTest>

#include "editor/canvas/edge_item.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/graph_view.h"
#include "editor/canvas/group_item.h"
#include "editor/canvas/node_item.h"
#include "editor/canvas/port_item.h"
#include "editor/graph_document.h"
#include "editor/groups/node_groups.h"
#include "engine/graph/graph_json.h"

using namespace nl::graph;
using namespace nl::editor;

namespace {

// in → fc → act → fc2 → out, plus an unwired Output `spare`, shown at 100 %.
struct Canvas {
  GraphDocument doc;
  GraphScene scene{doc};
  GraphView view{&scene};
  NodeId in = 0, fc = 0, act = 0, fc2 = 0, out = 0, spare = 0;

  Canvas() {
    in = doc.addNode("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}, {0, 0}).value;
    fc = doc.addNode("Linear", "fc", {{"out_features", int64_t{16}}}, {200, 0}).value;
    act = doc.addNode("ReLU", "act", {}, {400, 0}).value;
    fc2 = doc.addNode("Linear", "fc2", {{"out_features", int64_t{4}}}, {600, 0}).value;
    out = doc.addNode("Output", "y", {}, {800, 0}).value;
    spare = doc.addNode("Output", "spare", {}, {800, 200}).value;
    doc.connectPorts({{in, 0}, {fc, 0}});
    doc.connectPorts({{fc, 0}, {act, 0}});
    doc.connectPorts({{act, 0}, {fc2, 0}});
    doc.connectPorts({{fc2, 0}, {out, 0}});
    doc.undoStack()->clear();
    view.resize(1100, 500);
    view.show();
    view.centerOn(QPointF(450, 80));
    QApplication::processEvents();
  }

  QWidget* vp() { return view.viewport(); }
  QPoint at(QPointF scene_pos) const { return view.mapFromScene(scene_pos); }
  QPoint header(NodeId id) const { return at(scene.nodeItem(id)->scenePos() + QPointF(60, 10)); }
  nlohmann::json snapshot() const { return graph_to_json(doc.graph()); }

  // Ctrl+click the nodes, then Ctrl+G on the canvas.
  void groupByHand(const std::vector<NodeId>& ids) {
    view.setFocus();
    QTest::mouseClick(vp(), Qt::LeftButton, Qt::NoModifier, header(ids.front()));
    for (size_t i = 1; i < ids.size(); ++i) QTest::mouseClick(vp(), Qt::LeftButton, Qt::ControlModifier, header(ids[i]));
    QTest::keyClick(&view, Qt::Key_G, Qt::ControlModifier);
    QApplication::processEvents();
  }

  // What a hand sends: a click, then the second press as a double-click.
  void doubleClick(QPoint p) {
    QTest::mouseClick(vp(), Qt::LeftButton, Qt::NoModifier, p);
    QTest::mouseDClick(vp(), Qt::LeftButton, Qt::NoModifier, p);
    QApplication::processEvents();
  }

  void drag(QPoint from, QPoint to) {
    QTest::mousePress(vp(), Qt::LeftButton, Qt::NoModifier, from);
    for (int i = 1; i <= 4; ++i) QTest::mouseMove(vp(), from + (to - from) * i / 4);
    QTest::mouseRelease(vp(), Qt::LeftButton, Qt::NoModifier, to);
    QApplication::processEvents();
  }
};

}  // namespace

class TestGroups : public QObject {
  Q_OBJECT

 private slots:
  void ctrlGGroupsTheSelectionAndUndoRestoresTheDocument() {
    Canvas c;
    nlohmann::json before = c.snapshot();
    c.groupByHand({c.fc, c.act});
    auto groups = node_groups(c.doc.graph());
    QCOMPARE(groups.size(), size_t{1});
    const NodeGroup& g = groups.begin()->second;
    QCOMPARE(g.name, std::string("block 1"));
    QCOMPARE(g.members, (std::vector<NodeId>{c.fc, c.act}));
    QVERIFY(!g.collapsed);
    GroupItem* item = c.scene.groupItem("block 1");
    QVERIFY(item && item->isVisible() && !item->isCollapsed());
    // The frame surrounds both members.
    QVERIFY(item->sceneBoundingRect().contains(c.scene.nodeItem(c.fc)->sceneBoundingRect()));
    QVERIFY(item->sceneBoundingRect().contains(c.scene.nodeItem(c.act)->sceneBoundingRect()));
    QCOMPARE(c.doc.undoStack()->count(), 1);
    c.doc.undoStack()->undo();
    QVERIFY(c.snapshot() == before);
    QCOMPARE(c.scene.groupCount(), size_t{0});
    c.doc.undoStack()->redo();
    QCOMPARE(c.scene.groupCount(), size_t{1});
  }

  void doubleClickCollapsesAndTheBoxCarriesTheBoundaryEdges() {
    Canvas c;
    c.groupByHand({c.fc, c.act});
    GroupItem* item = c.scene.groupItem("block 1");
    c.doubleClick(c.at(item->scenePos() + QPointF(30, 10)));
    QApplication::processEvents();
    QVERIFY(item->isCollapsed());
    QVERIFY(c.doc.graph().node(c.fc).ui.collapsed && c.doc.graph().node(c.act).ui.collapsed);
    QVERIFY(!c.scene.nodeItem(c.fc)->isVisible());
    QVERIFY(!c.scene.nodeItem(c.act)->isVisible());
    // The edge inside is hidden; the edges across the boundary end on the box's ports.
    QVERIFY(!c.scene.edgeItem({{c.fc, 0}, {c.act, 0}})->isVisible());
    PortItem* box_in = item->inputPortFor({c.fc, 0});
    PortItem* box_out = item->outputPortFor({c.act, 0});
    QVERIFY(box_in && box_out);
    QCOMPARE(c.scene.inputPortPos({c.fc, 0}), box_in->scenePos());
    QCOMPARE(c.scene.outputPortPos({c.act, 0}), box_out->scenePos());
    EdgeItem* into = c.scene.edgeItem({{c.in, 0}, {c.fc, 0}});
    QVERIFY(into->isVisible());
    QVERIFY(into->shape().boundingRect().translated(into->pos()).adjusted(-2, -2, 2, 2).contains(box_in->scenePos()));
    QCOMPARE(c.doc.undoStack()->count(), 2);
    // A double-click on the box expands it again.
    c.doubleClick(c.at(item->scenePos() + QPointF(40, 35)));
    QApplication::processEvents();
    QVERIFY(!item->isCollapsed());
    QVERIFY(c.scene.nodeItem(c.fc)->isVisible());
    QVERIFY(c.scene.edgeItem({{c.fc, 0}, {c.act, 0}})->isVisible());
    c.doc.undoStack()->undo();  // collapsed again
    QVERIFY(c.scene.groupItem("block 1")->isCollapsed());
    QVERIFY(!c.scene.nodeItem(c.act)->isVisible());
  }

  void draggingACollapsedBlockMovesItsMembersInOneStep() {
    Canvas c;
    c.groupByHand({c.fc, c.act});
    QTest::keyClick(&c.view, Qt::Key_E, Qt::ControlModifier);  // the block is selected: collapse
    GroupItem* item = c.scene.groupItem("block 1");
    QVERIFY(item->isCollapsed());
    int steps = c.doc.undoStack()->count();
    QPointF fc_before(c.doc.graph().node(c.fc).ui.x, c.doc.graph().node(c.fc).ui.y);
    QPoint grab = c.at(item->scenePos() + QPointF(40, 35));
    c.drag(grab, grab + QPoint(100, 160));
    QCOMPARE(c.doc.undoStack()->count(), steps + 1);
    const NodeUi& fc = c.doc.graph().node(c.fc).ui;
    const NodeUi& act = c.doc.graph().node(c.act).ui;
    QCOMPARE(QPointF(fc.x, fc.y), fc_before + QPointF(100, 160));
    QCOMPARE(act.x - fc.x, 200.0);  // moved together
    QCOMPARE(item->scenePos(), item->anchor());
    // The boundary edge followed the box.
    QCOMPARE(c.scene.inputPortPos({c.fc, 0}), item->inputPortFor({c.fc, 0})->scenePos());
    c.doc.undoStack()->undo();
    QCOMPARE(QPointF(c.doc.graph().node(c.fc).ui.x, c.doc.graph().node(c.fc).ui.y), fc_before);
  }

  void wiringFromACollapsedBoxConnectsTheMemberPort() {
    Canvas c;
    c.doc.disconnectPorts({{c.act, 0}, {c.fc2, 0}});
    c.doc.undoStack()->clear();
    c.groupByHand({c.fc, c.act});
    QVERIFY(c.doc.setGroupCollapsed("block 1", true).ok);
    GroupItem* item = c.scene.groupItem("block 1");
    PortItem* box_out = item->outputPortFor({c.act, 0});
    QVERIFY(box_out);
    c.drag(c.at(box_out->scenePos()), c.at(c.scene.nodeItem(c.spare)->inputPort(0)->scenePos()));
    QVERIFY(c.doc.graph().edge_into({c.spare, 0}) == (Edge{{c.act, 0}, {c.spare, 0}}));
  }

  void deleteAndUngroupActOnWholeBlocks() {
    Canvas c;
    c.groupByHand({c.fc, c.act});
    nlohmann::json grouped = c.snapshot();
    QTest::keyClick(&c.view, Qt::Key_E, Qt::ControlModifier);
    QTest::keyClick(&c.view, Qt::Key_Delete);
    QApplication::processEvents();
    QVERIFY(!c.doc.graph().find(c.fc) && !c.doc.graph().find(c.act));
    QCOMPARE(c.scene.groupCount(), size_t{0});
    c.doc.undoStack()->undo();  // the block comes back collapsed
    QVERIFY(c.scene.groupItem("block 1") && c.scene.groupItem("block 1")->isCollapsed());
    QVERIFY(!c.scene.nodeItem(c.fc)->isVisible());
    c.doc.undoStack()->undo();  // expanded
    QVERIFY(c.snapshot() == grouped);
    c.scene.groupItem("block 1")->setSelected(true);
    QTest::keyClick(&c.view, Qt::Key_G, Qt::ControlModifier | Qt::ShiftModifier);
    QApplication::processEvents();
    QCOMPARE(c.scene.groupCount(), size_t{0});
    QVERIFY(c.doc.graph().node(c.fc).ui.group.empty());
    c.doc.undoStack()->undo();
    QVERIFY(c.snapshot() == grouped);
  }

  void refusalsChangeNothingAndSayWhy() {
    Canvas c;
    QVERIFY(!c.doc.groupNodes({}, "b").ok);
    QVERIFY(c.doc.groupNodes({c.fc, c.act}, "b").ok);
    QVERIFY(!c.doc.groupNodes({c.fc2}, "b").ok);  // the name belongs to another block
    QVERIFY(c.doc.lastError().contains("already exists"));
    QVERIFY(!c.doc.setGroupCollapsed("b", false).ok);
    QVERIFY(!c.doc.setGroupCollapsed("nope", true).ok);
    QVERIFY(c.doc.groupNodes({c.fc2, c.out}, "head").ok);
    QVERIFY(!c.doc.renameGroup("b", "head").ok);
    QCOMPARE(c.doc.undoStack()->count(), 2);
    QVERIFY(c.doc.renameGroup("b", "encoder").ok);
    QVERIFY(c.scene.groupItem("encoder") && !c.scene.groupItem("b"));
    // Regrouping a member moves it out of its old block.
    QVERIFY(c.doc.groupNodes({c.act, c.fc2}, "mid").ok);
    QCOMPARE(node_group(c.doc.graph(), "encoder")->members, std::vector<NodeId>{c.fc});
    QCOMPARE(node_group(c.doc.graph(), "head")->members, std::vector<NodeId>{c.out});
  }

  void boundaryListsOpenPortsToo() {
    Canvas c;
    // fc2 → out inside; fc2's input comes from outside; out has no output port at all.
    GroupBoundary b = group_boundary(c.doc.graph(), {c.fc2, c.out});
    QCOMPARE(b.inputs, (std::vector<PortRef>{{c.fc2, 0}}));
    QVERIFY(b.outputs.empty());
    // A lone Linear: its input is fed from outside, its output feeds outside.
    b = group_boundary(c.doc.graph(), {c.act});
    QCOMPARE(b.inputs, (std::vector<PortRef>{{c.act, 0}}));
    QCOMPARE(b.outputs, (std::vector<PortRef>{{c.act, 0}}));
  }

  void blocksSurviveSaveAndReopen() {
    Canvas c;
    QVERIFY(c.doc.groupNodes({c.fc, c.act}, "encoder").ok);
    QVERIFY(c.doc.setGroupCollapsed("encoder", true).ok);
    nlohmann::json saved = c.snapshot();
    c.doc.reset(graph_from_json(saved));
    QVERIFY(c.snapshot() == saved);
    GroupItem* item = c.scene.groupItem("encoder");
    QVERIFY(item && item->isCollapsed());
    QVERIFY(!c.scene.nodeItem(c.fc)->isVisible());
  }

  void copiedBlocksPasteAsNewBlocks() {
    Canvas c;
    QVERIFY(c.doc.groupNodes({c.fc, c.act}, "encoder").ok);
    c.scene.groupItem("encoder")->setSelected(true);
    c.view.setFocus();
    QTest::keyClick(&c.view, Qt::Key_D, Qt::ControlModifier);  // duplicate the whole block
    QApplication::processEvents();
    auto groups = node_groups(c.doc.graph());
    QCOMPARE(groups.size(), size_t{2});
    QCOMPARE(groups.at("encoder").members.size(), size_t{2});
    QCOMPARE(groups.at("encoder (2)").members.size(), size_t{2});
    // One node copied out of a block pastes as a plain node.
    c.scene.clearSelection();
    c.scene.nodeItem(c.fc)->setSelected(true);
    QTest::keyClick(&c.view, Qt::Key_D, Qt::ControlModifier);
    QCOMPARE(node_groups(c.doc.graph()).size(), size_t{2});
    QCOMPARE(c.doc.graph().nodes().size(), size_t{6 + 2 + 1});
  }

  void ctrlEFoldsLayersOutsideBlocksToTheirHeader() {
    Canvas c;
    QRectF open = c.scene.nodeItem(c.fc)->boundingRect();
    c.view.setFocus();
    QTest::mouseClick(c.vp(), Qt::LeftButton, Qt::NoModifier, c.header(c.fc));
    QTest::keyClick(&c.view, Qt::Key_E, Qt::ControlModifier);
    QApplication::processEvents();
    QVERIFY(c.doc.graph().node(c.fc).ui.collapsed);
    QVERIFY(node_groups(c.doc.graph()).empty());  // a fold, not a block
    QVERIFY(c.scene.nodeItem(c.fc)->boundingRect().height() < open.height());
    QVERIFY(c.scene.nodeItem(c.fc)->isVisible());
    QTest::keyClick(&c.view, Qt::Key_E, Qt::ControlModifier);  // unfold
    QVERIFY(!c.doc.graph().node(c.fc).ui.collapsed);
    QCOMPARE(c.scene.nodeItem(c.fc)->boundingRect(), open);
    c.doc.undoStack()->undo();
    QVERIFY(c.doc.graph().node(c.fc).ui.collapsed);
  }

  void pinchZoomsAroundTheFingers() {
    Canvas c;
    double before = c.view.zoom();
    QPoint centre(300, 200);
    QPointF scene_under = c.view.mapToScene(centre);
    QPointF global = c.vp()->mapToGlobal(QPointF(centre));
    QNativeGestureEvent pinch(Qt::ZoomNativeGesture, QPointingDevice::primaryPointingDevice(), 2, QPointF(centre),
                              QPointF(centre), global, 0.5, QPointF());
    QApplication::sendEvent(c.vp(), &pinch);
    QVERIFY(qAbs(c.view.zoom() - before * 1.5) < 1e-9);
    QPointF after = c.view.mapToScene(centre);
    QVERIFY(qAbs(after.x() - scene_under.x()) < 2 && qAbs(after.y() - scene_under.y()) < 2);
    QNativeGestureEvent out(Qt::ZoomNativeGesture, QPointingDevice::primaryPointingDevice(), 2, QPointF(centre),
                            QPointF(centre), global, -0.5, QPointF());
    QApplication::sendEvent(c.vp(), &out);
    QVERIFY(qAbs(c.view.zoom() - before * 0.75) < 1e-9);
  }
};

QTEST_MAIN(TestGroups)
#include "test_groups.moc"
