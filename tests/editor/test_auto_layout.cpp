// Auto-layout: dot on a worker thread, applied as one undo step.
#include <QSignalSpy>
#include <QTest>
#include <thread>

#include "editor/graph_document.h"
#include "editor/canvas/node_style.h"
#include "editor/layout/auto_layout.h"

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
};

QTEST_MAIN(TestAutoLayout)
#include "test_auto_layout.moc"
