// Graph document tests, without a view: every command is done, undone and redone, and after
// each step the graph is checked against the exact state it should be in (Kdenlive's model).
#include <QSignalSpy>
#include <QTest>

#include "editor/graph_document.h"
#include "engine/graph/graph_json.h"

using namespace nl::graph;
using nl::editor::GraphDocument;

namespace {

// x (N×8) → fc (Linear 16) → out; returns the ids.
struct Small {
  NodeId in = 0, fc = 0, out = 0;
};

Small build(GraphDocument& doc) {
  Small s;
  s.in = doc.addNode("Input", "x", {{"shape", std::vector<int64_t>{-1, 8}}}).value;
  s.fc = doc.addNode("Linear", "fc", {{"out_features", int64_t{16}}}, {200, 0}).value;
  s.out = doc.addNode("Output", "y", {}, {400, 0}).value;
  doc.connectPorts({{s.in, 0}, {s.fc, 0}});
  doc.connectPorts({{s.fc, 0}, {s.out, 0}});
  return s;
}

#define CHECK_CONSISTENT(doc) QCOMPARE(QString::fromStdString((doc).graph().consistency_error()), QString())

// Undo, check equal to `before`; redo, check equal to `after`.
void roundTrip(GraphDocument& doc, const ModelGraph& before, const ModelGraph& after) {
  doc.undoStack()->undo();
  CHECK_CONSISTENT(doc);
  QVERIFY(doc.graph() == before);
  doc.undoStack()->redo();
  CHECK_CONSISTENT(doc);
  QVERIFY(doc.graph() == after);
}

}  // namespace

class TestGraphDocument : public QObject {
  Q_OBJECT

 private slots:
  void addNodeUndoRedoKeepsIdAndName() {
    GraphDocument doc;
    QSignalSpy added(&doc, &GraphDocument::nodeAdded);
    QSignalSpy removed(&doc, &GraphDocument::nodeRemoved);
    ModelGraph before = doc.graph();
    auto r = doc.addNode("Linear", {}, {{"out_features", int64_t{4}}}, {10, 20});
    QVERIFY(r.ok);
    ModelGraph after = doc.graph();
    QCOMPARE(added.count(), 1);
    QCOMPARE(doc.graph().node(r.value).ui.x, 10.0);
    QCOMPARE(doc.undoStack()->count(), 1);
    roundTrip(doc, before, after);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(added.count(), 2);
    QCOMPARE(doc.graph().node(r.value).name, after.node(r.value).name);
  }

  void refusedRequestIsNotPushedAndSaysWhy() {
    GraphDocument doc;
    QSignalSpy refused(&doc, &GraphDocument::editRefused);
    auto r = doc.addNode("Lienar");
    QVERIFY(!r.ok);
    QCOMPARE(doc.undoStack()->count(), 0);
    QCOMPARE(refused.count(), 1);
    QVERIFY2(doc.lastError().contains("Lienar"), qPrintable(doc.lastError()));
    QVERIFY(!doc.isDirty());
  }

  void connectAndDisconnect() {
    GraphDocument doc;
    Small s = build(doc);
    CHECK_CONSISTENT(doc);
    QCOMPARE(doc.graph().edges().size(), size_t{2});
    // The analysis follows: the Linear's output is N×16.
    QCOMPARE(QString::fromStdString(shape_to_string(doc.analysis().output(s.fc, 0)->shape)), QString("N×16"));

    ModelGraph before = doc.graph();
    QVERIFY(doc.disconnectPorts({{s.fc, 0}, {s.out, 0}}).ok);
    ModelGraph after = doc.graph();
    QCOMPARE(after.edges().size(), size_t{1});
    roundTrip(doc, before, after);

    // A second edge into a connected input is refused, and nothing is pushed.
    doc.undoStack()->undo();  // fc → out is back
    int count = doc.undoStack()->count();
    QVERIFY(!doc.connectPorts({{s.in, 0}, {s.out, 0}}).ok);
    QVERIFY2(doc.lastError().contains("already connected"), qPrintable(doc.lastError()));
    QCOMPARE(doc.undoStack()->count(), count);
    QVERIFY(doc.graph() == before);
  }

  void connectUndoRestoresExactly() {
    GraphDocument doc;
    Small s = build(doc);
    QVERIFY(doc.disconnectPorts({{s.in, 0}, {s.fc, 0}}).ok);
    ModelGraph before = doc.graph();
    QSignalSpy edges(&doc, &GraphDocument::edgeAdded);
    QVERIFY(doc.connectPorts({{s.in, 0}, {s.fc, 0}}).ok);
    QCOMPARE(edges.count(), 1);
    roundTrip(doc, before, doc.graph());
  }

  void canConnectChangesNothing() {
    GraphDocument doc;
    Small s = build(doc);
    ModelGraph before = doc.graph();
    QSignalSpy any(&doc, &GraphDocument::edgeAdded);
    QVERIFY(!doc.canConnect({{s.out, 0}, {s.fc, 0}}).ok);  // occupied
    QVERIFY(doc.disconnectPorts({{s.fc, 0}, {s.out, 0}}).ok);
    QVERIFY(doc.canConnect({{s.in, 0}, {s.out, 0}}).ok);
    QVERIFY(doc.graph().edges().size() == 1);
    QCOMPARE(any.count(), 0);
    Q_UNUSED(before);
  }

  void removeItemsTakesEdgesAndUndoesInOneStep() {
    GraphDocument doc;
    Small s = build(doc);
    ModelGraph before = doc.graph();
    int count = doc.undoStack()->count();
    QVERIFY(doc.removeItems({s.fc, s.in}).ok);
    QCOMPARE(doc.undoStack()->count(), count + 1);
    ModelGraph after = doc.graph();
    QCOMPARE(after.size(), size_t{1});
    QVERIFY(after.edges().empty());
    roundTrip(doc, before, after);
    doc.undoStack()->undo();
    QCOMPARE(doc.graph().edges().size(), size_t{2});

    // An edge alone, and a bad id: refused without a change.
    QVERIFY(doc.removeItems({}, {{{s.in, 0}, {s.fc, 0}}}).ok);
    QCOMPARE(doc.graph().edges().size(), size_t{1});
    ModelGraph now = doc.graph();
    QVERIFY(!doc.removeItems({s.fc, 999}).ok);
    QVERIFY(doc.graph() == now);
  }

  void movesOfOneDragMergeIntoOneStep() {
    GraphDocument doc;
    Small s = build(doc);
    ModelGraph before = doc.graph();
    int count = doc.undoStack()->count();
    int drag = doc.newMoveId();
    QVERIFY(doc.moveNodes({{s.fc, {210, 5}}}, drag).ok);
    QVERIFY(doc.moveNodes({{s.fc, {250, 40}}, {s.out, {420, 3}}}, drag).ok);
    QCOMPARE(doc.undoStack()->count(), count + 1);
    QCOMPARE(doc.graph().node(s.fc).ui.x, 250.0);
    ModelGraph after = doc.graph();
    roundTrip(doc, before, after);
    // A second drag is a second step.
    QVERIFY(doc.moveNodes({{s.fc, {0, 100}}}, doc.newMoveId()).ok);
    QCOMPARE(doc.undoStack()->count(), count + 2);
  }

  void setAttributeUndoGoesBackToUnset() {
    GraphDocument doc;
    Small s = build(doc);
    ModelGraph before = doc.graph();
    QVERIFY(!doc.graph().node(s.fc).attrs.count("bias"));
    QVERIFY(doc.setAttribute(s.fc, "bias", false).ok);
    QVERIFY(doc.setAttribute(s.fc, "out_features", int64_t{32}).ok);
    QCOMPARE(QString::fromStdString(shape_to_string(doc.analysis().output(s.fc, 0)->shape)), QString("N×32"));
    doc.undoStack()->undo();
    QCOMPARE(QString::fromStdString(shape_to_string(doc.analysis().output(s.fc, 0)->shape)), QString("N×16"));
    doc.undoStack()->undo();
    QVERIFY(doc.graph() == before);
    QVERIFY(!doc.graph().node(s.fc).attrs.count("bias"));  // not "set to the default": unset
    QVERIFY(!doc.setAttribute(s.fc, "out_features", int64_t{0}).ok);  // below the minimum
    QVERIFY(doc.graph() == before);
  }

  void renameAndRefusedRename() {
    GraphDocument doc;
    Small s = build(doc);
    ModelGraph before = doc.graph();
    QVERIFY(doc.renameNode(s.fc, "hidden").ok);
    ModelGraph after = doc.graph();
    roundTrip(doc, before, after);
    QVERIFY(!doc.renameNode(s.fc, "x").ok);
    QVERIFY2(doc.lastError().contains("already used"), qPrintable(doc.lastError()));
  }

  void pasteIsOneStepWithFreshIds() {
    GraphDocument source;
    Small s = build(source);
    nlohmann::json snippet = snippet_to_json(source.graph(), {s.in, s.fc});

    GraphDocument doc;
    build(doc);
    ModelGraph before = doc.graph();
    auto pasted = doc.paste(snippet, 30, 30);
    QVERIFY2(pasted.ok, pasted.error.c_str());
    QCOMPARE(pasted.value.size(), size_t{2});
    QCOMPARE(doc.graph().size(), size_t{5});
    QCOMPARE(doc.graph().edges().size(), size_t{3});  // the pasted pair keeps its edge
    for (NodeId id : pasted.value) QVERIFY(!before.find(id));
    CHECK_CONSISTENT(doc);
    roundTrip(doc, before, doc.graph());

    QVERIFY(!doc.paste(nlohmann::json{{"format", "nope"}}).ok);
    QVERIFY(doc.lastError().startsWith("cannot paste"));
  }

  void dirtyFollowsTheUndoStack() {
    GraphDocument doc;
    QSignalSpy dirty(&doc, &GraphDocument::dirtyChanged);
    QVERIFY(!doc.isDirty());
    doc.addNode("ReLU");
    QVERIFY(doc.isDirty());
    doc.markClean();
    QVERIFY(!doc.isDirty());
    doc.undoStack()->undo();
    QVERIFY(doc.isDirty());
    doc.undoStack()->redo();
    QVERIFY(!doc.isDirty());
    QVERIFY(dirty.count() >= 3);
  }

  void analysisRunsOncePerCommand() {
    GraphDocument doc;
    Small s = build(doc);
    QSignalSpy analysed(&doc, &GraphDocument::analysisChanged);
    doc.removeItems({s.in, s.fc, s.out});
    QCOMPARE(analysed.count(), 1);
    doc.undoStack()->undo();
    QCOMPARE(analysed.count(), 2);
    // Moves change no shape: no analysis.
    doc.moveNodes({{s.fc, {1, 1}}}, doc.newMoveId());
    QCOMPARE(analysed.count(), 2);
  }
};

QTEST_GUILESS_MAIN(TestGraphDocument)
#include "test_graph_document.moc"
