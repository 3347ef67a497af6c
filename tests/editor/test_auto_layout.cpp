// Auto-layout: dot on a worker thread, applied as one undo step.
#include <QSignalSpy>
#include <QTest>
#include <thread>

#include "editor/graph_document.h"
#include "editor/canvas/node_style.h"
#include "editor/layout/auto_layout.h"
#include "engine/graph/graph_json.h"

Q_DECLARE_METATYPE(nl::editor::LayoutResult)

using namespace nl::graph;
using namespace nl::editor;

namespace {

// x → fc → act → y, all piled up at the origin.
std::vector<NodeId> chain(GraphDocument& doc) {
  std::vector<NodeId> ids{doc.addNode("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}).value,
                          doc.addNode("Linear", "fc", {{"out_features", int64_t{4}}}).value,
                          doc.addNode("ReLU", "act").value, doc.addNode("Output", "y").value};
  for (size_t i = 0; i + 1 < ids.size(); ++i) doc.connectPorts({{ids[i], 0}, {ids[i + 1], 0}});
  doc.undoStack()->clear();
  return ids;
}

LayoutResult runLayout(AutoLayout& layout, LayoutDirection dir) {
  QSignalSpy done(&layout, &AutoLayout::finished);
  if (!layout.start(dir)) return {};
  if (!done.wait(20000)) return {};
  return done.takeFirst().at(0).value<LayoutResult>();
}

}  // namespace

class TestAutoLayout : public QObject {
  Q_OBJECT

 private slots:
  void leftToRightChainIsOrderedAndOneUndoRestores() {
    GraphDocument doc;
    std::vector<NodeId> ids = chain(doc);
    ModelGraph before = doc.graph();
    AutoLayout layout(doc);
    LayoutResult r = runLayout(layout, LayoutDirection::LeftToRight);
    QVERIFY2(r.error.empty(), r.error.c_str());
    QVERIFY(r.computed_on != std::thread::id());
    QVERIFY(r.computed_on != std::this_thread::get_id());  // not the GUI thread
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const NodeUi &a = doc.graph().node(ids[i]).ui, &b = doc.graph().node(ids[i + 1]).ui;
      QVERIFY2(b.x > a.x + 100, qPrintable(QString("%1 then %2").arg(a.x).arg(b.x)));  // no overlap
      // One row: the nodes' vertical centres line up.
      QCOMPARE(a.y + NodeLayout::of(doc, ids[i]).rect().height() / 2,
               b.y + NodeLayout::of(doc, ids[i + 1]).rect().height() / 2);
    }
    QCOMPARE(doc.undoStack()->count(), 1);
    doc.undoStack()->undo();
    QVERIFY(doc.graph() == before);
  }

  void topToBottomOrdersByY() {
    GraphDocument doc;
    std::vector<NodeId> ids = chain(doc);
    AutoLayout layout(doc);
    LayoutResult r = runLayout(layout, LayoutDirection::TopToBottom);
    QVERIFY2(r.error.empty(), r.error.c_str());
    for (size_t i = 0; i + 1 < ids.size(); ++i)
      QVERIFY(doc.graph().node(ids[i + 1]).ui.y > doc.graph().node(ids[i]).ui.y);
  }

  void aBranchGetsTwoRowsAndEditsDuringTheRunAreKept() {
    GraphDocument doc;
    std::vector<NodeId> ids = chain(doc);
    NodeId side = doc.addNode("Sigmoid", "side").value;
    doc.connectPorts({{ids[1], 0}, {side, 0}});
    AutoLayout layout(doc);
    QSignalSpy done(&layout, &AutoLayout::finished);
    QVERIFY(layout.start(LayoutDirection::LeftToRight));
    QVERIFY(!layout.start(LayoutDirection::LeftToRight));  // one at a time
    doc.removeItems({ids[3]});  // removed while the worker runs
    QVERIFY(done.wait(20000));
    QVERIFY(!doc.graph().find(ids[3]));
    QCOMPARE(doc.graph().node(side).ui.x, doc.graph().node(ids[2]).ui.x);  // same rank
    QVERIFY(doc.graph().node(side).ui.y != doc.graph().node(ids[2]).ui.y);
  }

  void blocksStayTogetherAndACollapsedBlockMovesAsOne() {
    GraphDocument doc;
    std::vector<NodeId> ids = chain(doc);
    NodeId side = doc.addNode("Sigmoid", "side").value;
    doc.connectPorts({{ids[1], 0}, {side, 0}});
    // fc and act form a collapsed block, spread apart by hand first.
    doc.moveNodes({{ids[1], QPointF(500, 300)}, {ids[2], QPointF(900, 20)}}, doc.newMoveId());
    QVERIFY(doc.groupNodes({ids[1], ids[2]}, "core").ok);
    QVERIFY(doc.setGroupCollapsed("core", true).ok);
    QPointF spread = QPointF(doc.graph().node(ids[2]).ui.x, doc.graph().node(ids[2]).ui.y) -
                     QPointF(doc.graph().node(ids[1]).ui.x, doc.graph().node(ids[1]).ui.y);
    LayoutInput in = AutoLayout::snapshot(doc, LayoutDirection::LeftToRight);
    QCOMPARE(in.nodes.size(), size_t{4});  // x, the block's box, side, y
    AutoLayout layout(doc);
    runLayout(layout, LayoutDirection::LeftToRight);
    const NodeUi &fc = doc.graph().node(ids[1]).ui, &act = doc.graph().node(ids[2]).ui;
    QCOMPARE(QPointF(act.x, act.y) - QPointF(fc.x, fc.y), spread);  // moved as one
    // The block's box comes after x and before y.
    QVERIFY(doc.graph().node(ids[0]).ui.x < std::min(fc.x, act.x));
    QVERIFY(doc.graph().node(ids[3]).ui.x > std::min(fc.x, act.x));
    QCOMPARE(doc.undoStack()->count(), 6);  // add, connect, move, group, collapse, layout: one step each

    // Expanded, the members are a cluster: no other node lands inside their bounding box.
    QVERIFY(doc.setGroupCollapsed("core", false).ok);
    runLayout(layout, LayoutDirection::LeftToRight);
    QRectF block;
    for (NodeId m : {ids[1], ids[2]})
      block = block.united(QRectF(doc.graph().node(m).ui.x, doc.graph().node(m).ui.y, NodeStyle::kWidth, 40));
    for (NodeId other : {ids[0], ids[3], side})
      QVERIFY(!block.contains(QPointF(doc.graph().node(other).ui.x + 1, doc.graph().node(other).ui.y + 1)));
  }

  void cancelAndTheTimeLimitDropTheResult() {
    GraphDocument doc;
    chain(doc);
    nlohmann::json before = graph_to_json(doc.graph());
    AutoLayout layout(doc);
    QSignalSpy cancelled(&layout, &AutoLayout::cancelled);
    QSignalSpy refused(&doc, &GraphDocument::editRefused);
    QVERIFY(layout.start(LayoutDirection::LeftToRight));
    layout.cancel();
    QCOMPARE(cancelled.count(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(!layout.isRunning(), 20000);
    QVERIFY(graph_to_json(doc.graph()) == before);
    QCOMPARE(doc.undoStack()->count(), 0);
    QVERIFY(refused.last().at(0).toString().contains("cancelled"));

    // A graph too big for a 1 ms limit.
    ModelGraph big;
    NodeId prev = big.add_node("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}).value;
    for (int i = 0; i < 600; ++i) {
      NodeId next = big.add_node(i % 2 ? "ReLU" : "Linear", {}, {}).value;
      big.connect({{prev, 0}, {next, 0}});
      prev = next;
    }
    doc.reset(std::move(big));
    before = graph_to_json(doc.graph());
    layout.setTimeLimit(1);
    QVERIFY(layout.start(LayoutDirection::LeftToRight));
    QVERIFY(cancelled.wait(5000));
    QVERIFY(cancelled.last().at(0).toString().contains("longer than"));
    QTRY_VERIFY_WITH_TIMEOUT(!layout.isRunning(), 60000);
    QVERIFY(graph_to_json(doc.graph()) == before);
    QCOMPARE(doc.undoStack()->count(), 0);
  }
};

QTEST_MAIN(TestAutoLayout)
#include "test_auto_layout.moc"
