// Whole-graph shape inference and validation: inferred shapes along a model, and broken
// graphs that each give one error, on the node that causes it.
#include <QtTest/QtTest>

#include "engine/graph/graph_analysis.h"

using namespace nl;
using namespace nl::graph;

namespace {

// A small builder: chain(...) wires each node's output 0 to the next node's input 0.
struct Builder {
  ModelGraph g;
  NodeId add(const std::string& type, const std::string& name, AttrMap attrs = {}) {
    auto r = g.add_node(type, name, attrs);
    if (!r) qFatal("add %s: %s", name.c_str(), r.error.c_str());
    return r.value;
  }
  void link(NodeId a, NodeId b, int out = 0, int in = 0) {
    auto r = g.connect({{a, out}, {b, in}});
    if (!r) qFatal("connect: %s", r.error.c_str());
  }
  NodeId chain(std::vector<NodeId> ids) {
    for (size_t i = 0; i + 1 < ids.size(); ++i) link(ids[i], ids[i + 1]);
    return ids.back();
  }
  NodeId input(std::vector<int64_t> shape, const std::string& name = "x", const std::string& dtype = "float32") {
    return add("Input", name, {{"shape", shape}, {"dtype", dtype}});
  }
};

std::vector<NodeMessage> errors_of(const GraphAnalysis& a) {
  std::vector<NodeMessage> out;
  for (const auto& m : a.messages)
    if (m.severity == Severity::Error) out.push_back(m);
  return out;
}

std::string dump(const std::vector<NodeMessage>& ms) {
  std::string s;
  for (const auto& m : ms) s += "[node " + std::to_string(m.node) + "] " + m.text + "\n";
  return s;
}

// Exactly one error, on `node`, containing `fragment`.
#define EXPECT_ONE_ERROR(analysis, node_id, fragment)                                            \
  do {                                                                                           \
    auto errs_ = errors_of(analysis);                                                            \
    QVERIFY2(errs_.size() == 1, ("errors:\n" + dump(errs_)).c_str());                            \
    QCOMPARE(errs_[0].node, (node_id));                                                          \
    QVERIFY2(errs_[0].text.find(fragment) != std::string::npos, ("message: " + errs_[0].text).c_str()); \
  } while (0)

}  // namespace

class TestGraphAnalysis : public QObject {
  Q_OBJECT
 private slots:
  void cnnShapesAndSummary() {
    Builder b;
    NodeId x = b.input({-1, 1, 28, 28});
    NodeId conv = b.add("Conv2d", "conv1", {{"out_channels", int64_t{32}}});
    NodeId pool = b.add("MaxPool2d", "pool1", {{"kernel_size", std::vector<int64_t>{2, 2}}});
    NodeId flat = b.add("Flatten", "flat");
    NodeId fc = b.add("Linear", "fc", {{"out_features", int64_t{10}}});
    NodeId out = b.add("Output", "logits");
    b.chain({x, conv, pool, flat, fc, out});
    GraphAnalysis a = analyze(b.g);
    QVERIFY2(!a.has_errors(), dump(a.messages).c_str());
    QCOMPARE(QString::fromStdString(shape_to_string(a.output(conv, 0)->shape)), QString("N×32×28×28"));
    QCOMPARE(QString::fromStdString(shape_to_string(a.output(pool, 0)->shape)), QString("N×32×14×14"));
    QCOMPARE(QString::fromStdString(shape_to_string(a.output(flat, 0)->shape)), QString("N×6272"));
    QCOMPARE(QString::fromStdString(shape_to_string(a.output(fc, 0)->shape)), QString("N×10"));
    QCOMPARE(a.nodes.at(conv).cost.params, int64_t{32 * 9 + 32});
    QCOMPARE(a.nodes.at(fc).cost.params, int64_t{6272 * 10 + 10});
    QCOMPARE(a.nodes.at(fc).cost.flops, int64_t{2 * 6272 * 10});
    QCOMPARE(a.total_params(), int64_t{32 * 9 + 32 + 6272 * 10 + 10});
    QCOMPARE(a.nodes.at(conv).activation_bytes, int64_t{32 * 28 * 28 * 4});
    ModelSummary s = summarize(b.g, a);
    QCOMPARE(s.rows.size(), size_t{6});
    QCOMPARE(s.params, a.total_params());
    std::string text = s.to_text();
    QVERIFY2(text.find("conv1") != std::string::npos && text.find("N×32×14×14") != std::string::npos, text.c_str());
    QVERIFY(text.find("Total") != std::string::npos);
  }

  void changingAnAttributeReinfersDownstream() {
    Builder b;
    NodeId x = b.input({-1, 8});
    NodeId fc1 = b.add("Linear", "fc1", {{"out_features", int64_t{16}}});
    NodeId fc2 = b.add("Linear", "fc2", {{"out_features", int64_t{4}}});
    b.chain({x, fc1, fc2, b.add("Output", "y")});
    QCOMPARE(analyze(b.g).nodes.at(fc2).cost.params, int64_t{16 * 4 + 4});
    QVERIFY(b.g.set_attribute(fc1, "out_features", int64_t{32}));
    QCOMPARE(analyze(b.g).nodes.at(fc2).cost.params, int64_t{32 * 4 + 4});  // in_features follows
  }

  // --- Broken graphs: one error each, on the node at fault ---

  void noInputNode() {
    Builder b;
    b.chain({b.add("ReLU", "r"), b.add("Output", "y")});
    GraphAnalysis a = analyze(b.g);
    QVERIFY(a.has_errors());
    bool found = false;
    for (const auto& m : a.messages) found |= m.node == 0 && m.text.find("no Input") != std::string::npos;
    QVERIFY2(found, dump(a.messages).c_str());
  }

  void unconnectedRequiredInput() {
    Builder b;
    NodeId x = b.input({-1, 4});
    NodeId fc = b.add("Linear", "fc");
    NodeId out = b.add("Output", "y");
    b.link(fc, out);
    (void)x;
    GraphAnalysis a = analyze(b.g);
    EXPECT_ONE_ERROR(a, fc, "not connected");
    QCOMPARE(errors_of(a)[0].input_port, 0);
  }

  void convOnAFlatTensor() {
    Builder b;
    NodeId x = b.input({-1, 10});
    NodeId conv = b.add("Conv2d", "conv");
    b.chain({x, conv, b.add("ReLU", "r"), b.add("Output", "y")});
    EXPECT_ONE_ERROR(analyze(b.g), conv, "rank");  // one message: ReLU below stays quiet
  }

  void kernelLargerThanInput() {
    Builder b;
    NodeId x = b.input({-1, 3, 4, 4});
    NodeId conv = b.add("Conv2d", "conv", {{"kernel_size", std::vector<int64_t>{7, 7}}, {"padding", std::vector<int64_t>{0, 0}}});
    b.chain({x, conv, b.add("Output", "y")});
    EXPECT_ONE_ERROR(analyze(b.g), conv, "kernel");
  }

  void addOfShapesThatDoNotBroadcast() {
    Builder b;
    NodeId x = b.input({-1, 8});
    NodeId a1 = b.add("Linear", "a", {{"out_features", int64_t{32}}});
    NodeId a2 = b.add("Linear", "b", {{"out_features", int64_t{64}}});
    NodeId add = b.add("Add", "sum");
    b.link(x, a1);
    b.link(x, a2);
    b.link(a1, add, 0, 0);
    b.link(a2, add, 0, 1);
    b.link(add, b.add("Output", "y"));
    EXPECT_ONE_ERROR(analyze(b.g), add, "broadcast");
  }

  void concatOfDifferentSpatialSizes() {
    Builder b;
    NodeId x = b.input({-1, 3, 16, 16});
    NodeId c1 = b.add("Conv2d", "c1");
    NodeId c2 = b.add("Conv2d", "c2", {{"stride", std::vector<int64_t>{2, 2}}});
    NodeId cat = b.add("Concat", "cat");
    b.link(x, c1);
    b.link(x, c2);
    b.link(c1, cat, 0, 0);
    b.link(c2, cat, 0, 1);
    b.link(cat, b.add("Output", "y"));
    EXPECT_ONE_ERROR(analyze(b.g), cat, "16");
  }

  void reshapeThatDoesNotDivide() {
    Builder b;
    NodeId x = b.input({-1, 10});
    NodeId r = b.add("Reshape", "r", {{"shape", std::vector<int64_t>{0, 3, -1}}});
    b.chain({x, r, b.add("Output", "y")});
    EXPECT_ONE_ERROR(analyze(b.g), r, "10");
  }

  void embeddingFedFloats() {
    Builder b;
    NodeId x = b.input({-1, 12});
    NodeId e = b.add("Embedding", "emb");
    b.chain({x, e, b.add("Output", "y")});
    auto errs = errors_of(analyze(b.g));
    QCOMPARE(errs.size(), size_t{1});
    QCOMPARE(errs[0].node, e);
  }

  void crossEntropyTargetOfWrongShape() {
    Builder b;
    NodeId x = b.input({-1, 8});
    NodeId t = b.input({-1, 8}, "target", "int64");
    NodeId fc = b.add("Linear", "fc", {{"out_features", int64_t{4}}});
    NodeId loss = b.add("Loss", "loss");
    b.chain({x, fc, b.add("Output", "y")});
    b.link(fc, loss, 0, 0);
    b.link(t, loss, 0, 1);
    EXPECT_ONE_ERROR(analyze(b.g), loss, "target");
  }

  void attentionHeadsDoNotDivide() {
    Builder b;
    NodeId x = b.input({-1, 5, 30});
    NodeId att = b.add("MultiheadAttention", "att", {{"num_heads", int64_t{4}}});
    b.chain({x, att, b.add("Output", "y")});
    EXPECT_ONE_ERROR(analyze(b.g), att, "divisible");
  }

  void permuteThatIsNotAPermutation() {
    Builder b;
    NodeId x = b.input({-1, 4, 5});
    NodeId p = b.add("Permute", "p", {{"dims", std::vector<int64_t>{0, 2}}});
    b.chain({x, p, b.add("Output", "y")});
    EXPECT_ONE_ERROR(analyze(b.g), p, "permutation");
  }

  void splitSizesThatDoNotSum() {
    Builder b;
    NodeId x = b.input({-1, 10});
    NodeId s = b.add("Split", "s", {{"sizes", std::vector<int64_t>{3, 3}}});
    b.chain({x, s, b.add("Output", "y")});
    EXPECT_ONE_ERROR(analyze(b.g), s, "10");
  }

  void variadicGapIsReported() {
    Builder b;
    NodeId x = b.input({-1, 4});
    NodeId add = b.add("Add", "sum");
    b.link(x, add, 0, 0);
    b.link(x, add, 0, 2);
    b.link(add, b.add("Output", "y"));
    GraphAnalysis a = analyze(b.g);
    EXPECT_ONE_ERROR(a, add, "not connected");
    QCOMPARE(errors_of(a)[0].input_port, 1);
  }

  void deadBranchIsAWarningNotAnError() {
    Builder b;
    NodeId x = b.input({-1, 4});
    NodeId dead = b.add("ReLU", "unused");
    b.chain({x, b.add("Linear", "fc"), b.add("Output", "y")});
    b.link(x, dead);
    GraphAnalysis a = analyze(b.g);
    QVERIFY(!a.has_errors());
    auto ms = a.messages_for(dead);
    QCOMPARE(ms.size(), size_t{1});
    QCOMPARE(int(ms[0].severity), int(Severity::Warning));
  }

  void lstmNeedsASequence() {
    Builder b;
    NodeId x = b.input({-1, 16});
    NodeId lstm = b.add("LSTM", "lstm");
    b.chain({x, lstm, b.add("Output", "y")});
    EXPECT_ONE_ERROR(analyze(b.g), lstm, "rank");
  }
};

QTEST_APPLESS_MAIN(TestGraphAnalysis)
#include "test_graph_analysis.moc"
