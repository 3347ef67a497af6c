// The model graph's edit requests: each succeeds or changes nothing, and each success is
// undone by its inverse (apply → check consistency → revert → check equal → redo → check).
#include <QtTest/QtTest>

#include <random>

#include "engine/graph/model_graph.h"

using namespace nl;
using namespace nl::graph;

namespace {

AttrMap input_shape(std::vector<int64_t> shape) { return {{"shape", shape}}; }

// Input(N×8) → fc1 → relu → fc2 → Output
struct Mlp {
  ModelGraph g;
  NodeId in, fc1, relu, fc2, out;
  Mlp() {
    in = g.add_node("Input", "x", input_shape({-1, 8})).value;
    fc1 = g.add_node("Linear", "fc1", {{"out_features", int64_t{16}}}).value;
    relu = g.add_node("ReLU", "relu").value;
    fc2 = g.add_node("Linear", "fc2", {{"out_features", int64_t{3}}}).value;
    out = g.add_node("Output", "logits").value;
    for (auto [a, b] : {std::pair{in, fc1}, {fc1, relu}, {relu, fc2}, {fc2, out}})
      if (!g.connect({{a, 0}, {b, 0}})) qFatal("setup failed");
  }
};

#define EXPECT_REFUSED(result, fragment)                                                                  \
  do {                                                                                                    \
    auto r_ = (result);                                                                                   \
    QVERIFY2(!r_.ok, "the edit was accepted");                                                            \
    QVERIFY2(r_.error.find(fragment) != std::string::npos, ("message was: " + r_.error).c_str());        \
  } while (0)

}  // namespace

class TestModelGraph : public QObject {
  Q_OBJECT
 private slots:
  void addAndConnectBuildAConsistentGraph() {
    Mlp m;
    QCOMPARE(m.g.size(), size_t{5});
    QCOMPARE(m.g.edges().size(), size_t{4});
    QCOMPARE(QString::fromStdString(m.g.consistency_error()), QString());
    auto order = m.g.topological_order();
    QCOMPARE(order, (std::vector<NodeId>{m.in, m.fc1, m.relu, m.fc2, m.out}));
  }

  void namesAreChosenAndKeptUnique() {
    ModelGraph g;
    NodeId a = g.add_node("Linear").value;
    NodeId b = g.add_node("Linear").value;
    QVERIFY(g.node(a).name != g.node(b).name);
    EXPECT_REFUSED(g.add_node("ReLU", g.node(a).name), "already used");
    EXPECT_REFUSED(g.rename(b, g.node(a).name), "already used");
    QVERIFY(g.rename(b, "head"));
    QCOMPARE(QString::fromStdString(g.node(b).name), QString("head"));
  }

  void refusedEditsChangeNothing() {
    Mlp m;
    const ModelGraph before = m.g;
    EXPECT_REFUSED(m.g.add_node("Linaer"), "unknown layer type 'Linaer'");
    EXPECT_REFUSED(m.g.connect({{m.fc2, 0}, {m.fc1, 0}}), "already connected");
    NodeId extra = m.g.add_node("ReLU", "extra").value;
    const ModelGraph with_extra = m.g;
    // An output may feed many inputs, but an input takes one edge.
    QVERIFY(m.g.connect({{m.fc2, 0}, {extra, 0}}));
    EXPECT_REFUSED(m.g.connect({{extra, 0}, {m.fc1, 0}}), "already connected");
    QVERIFY(m.g.disconnect({{m.fc2, 0}, {extra, 0}}));
    QVERIFY(m.g == with_extra);
    EXPECT_REFUSED(m.g.connect({{extra, 0}, {extra, 0}}), "cycle");
    EXPECT_REFUSED(m.g.connect({{m.fc2, 0}, {m.fc1, 1}}), "has no input 1");
    EXPECT_REFUSED(m.g.connect({{m.fc2, 3}, {extra, 0}}), "has no output 3");
    EXPECT_REFUSED(m.g.connect({{m.in, 0}, {m.fc1, 0}}), "already connected");
    EXPECT_REFUSED(m.g.set_attribute(m.fc1, "out_featurs", int64_t{3}), "no attribute 'out_featurs'");
    EXPECT_REFUSED(m.g.set_attribute(m.fc1, "out_features", 3.5), "must be an int");
    EXPECT_REFUSED(m.g.set_attribute(m.fc1, "out_features", int64_t{0}), "outside");
    EXPECT_REFUSED(m.g.remove_node(999), "no node with id 999");
    EXPECT_REFUSED(m.g.disconnect({{m.in, 0}, {m.relu, 0}}), "not connected");
    QVERIFY(m.g == with_extra);
    m.g.remove_node(extra);
    QVERIFY(m.g == before);
  }

  void cyclesAreRefusedAcrossLongPaths() {
    Mlp m;
    NodeId add = m.g.add_node("Add", "skip").value;
    QVERIFY(m.g.connect({{m.fc2, 0}, {add, 0}}));
    EXPECT_REFUSED(m.g.connect({{add, 0}, {m.fc1, 0}}), "already connected");
    QVERIFY(m.g.disconnect({{m.in, 0}, {m.fc1, 0}}));
    EXPECT_REFUSED(m.g.connect({{add, 0}, {m.fc1, 0}}), "cycle");
  }

  void portTypesMismatchIsRefused() {
    ModelGraph g;
    NodeId in = g.add_node("Input", "x", input_shape({-1, 8})).value;
    NodeId fc = g.add_node("Linear", "fc").value;
    NodeId emb = g.add_node("Embedding", "emb").value;
    QVERIFY(g.connect({{in, 0}, {fc, 0}}));
    EXPECT_REFUSED(g.connect({{fc, 0}, {emb, 0}}), "cannot connect");
  }

  void removeAndRestoreRoundTrip() {
    Mlp m;
    const ModelGraph before = m.g;
    auto removed = m.g.remove_node(m.relu);
    QVERIFY(removed.ok);
    QCOMPARE(removed.value.edges.size(), size_t{2});
    QCOMPARE(m.g.edges().size(), size_t{2});
    QCOMPARE(QString::fromStdString(m.g.consistency_error()), QString());
    QVERIFY(m.g.restore_node(removed.value));
    QVERIFY(m.g == before);
    // Ids are never reused: a new node after a removal gets a fresh id.
    auto again = m.g.remove_node(m.relu);
    NodeId fresh = m.g.add_node("ReLU").value;
    QVERIFY(fresh != m.relu);
    m.g.remove_node(fresh);
    QVERIFY(m.g.restore_node(again.value));
    QVERIFY(m.g == before);
  }

  void restoreThatCannotReconnectChangesNothing() {
    Mlp m;
    auto removed = m.g.remove_node(m.relu);
    NodeId other = m.g.add_node("ReLU", "other").value;
    QVERIFY(m.g.connect({{other, 0}, {m.fc2, 0}}));  // takes the input relu fed
    const ModelGraph before = m.g;
    EXPECT_REFUSED(m.g.restore_node(removed.value), "already connected");
    QVERIFY(m.g == before);
  }

  void attributesSetResetAndDefaults() {
    Mlp m;
    QCOMPARE(std::get<int64_t>(m.g.attribute(m.fc1, "out_features")), int64_t{16});
    QCOMPARE(std::get<bool>(m.g.attribute(m.fc1, "bias")), true);  // schema default
    AttrValue old = m.g.attribute(m.fc1, "out_features");
    QVERIFY(m.g.set_attribute(m.fc1, "out_features", int64_t{32}));
    QCOMPARE(std::get<int64_t>(m.g.attribute(m.fc1, "out_features")), int64_t{32});
    QVERIFY(m.g.set_attribute(m.fc1, "out_features", old));
    QVERIFY(m.g.reset_attribute(m.fc1, "bias"));
    QVERIFY(!m.g.node(m.fc1).attrs.count("bias"));
  }

  void variadicInputsTakeSlots() {
    ModelGraph g;
    NodeId in = g.add_node("Input", "x", input_shape({-1, 4})).value;
    NodeId a = g.add_node("ReLU", "a").value;
    NodeId b = g.add_node("Tanh", "b").value;
    NodeId add = g.add_node("Add", "sum").value;
    QCOMPARE(g.num_input_slots(add), 1);
    QVERIFY(g.connect({{in, 0}, {a, 0}}));
    QVERIFY(g.connect({{in, 0}, {b, 0}}));
    QVERIFY(g.connect({{a, 0}, {add, 0}}));
    QVERIFY(g.connect({{b, 0}, {add, 1}}));
    QVERIFY(g.connect({{in, 0}, {add, 2}}));
    QCOMPARE(g.num_input_slots(add), 3);
    EXPECT_REFUSED(g.connect({{b, 0}, {add, 1}}), "already connected");
    QCOMPARE(QString::fromStdString(g.input_port_spec(add, 2).name), QString("inputs"));
  }

  void splitOutputsFollowTheAttribute() {
    ModelGraph g;
    NodeId in = g.add_node("Input", "x", input_shape({-1, 6})).value;
    NodeId split = g.add_node("Split", "split", {{"num_outputs", int64_t{3}}}).value;
    NodeId r = g.add_node("ReLU", "r").value;
    QVERIFY(g.connect({{in, 0}, {split, 0}}));
    QVERIFY(g.connect({{split, 2}, {r, 0}}));
    EXPECT_REFUSED(g.connect({{split, 3}, {g.add_node("ReLU").value, 0}}), "has no output 3");
    EXPECT_REFUSED(g.set_attribute(split, "num_outputs", int64_t{2}), "disconnect it");
    QCOMPARE(std::get<int64_t>(g.attribute(split, "num_outputs")), int64_t{3});
  }

  // Random edit sequences: each successful request is recorded with its inverse; undoing all
  // of them in reverse returns the original graph, and the graph is consistent throughout.
  void randomEditsUndoToTheStart() {
    std::mt19937 rng(1234);
    for (int trial = 0; trial < 20; ++trial) {
      Mlp m;
      const ModelGraph start = m.g;
      std::vector<std::function<void()>> undo;
      std::vector<NodeId> ids{m.in, m.fc1, m.relu, m.fc2, m.out};
      for (int step = 0; step < 60; ++step) {
        auto pick = [&] { return ids[rng() % ids.size()]; };
        switch (rng() % 6) {
          case 0: {
            const char* types[] = {"ReLU", "Linear", "Add", "Tanh", "Dropout"};
            auto r = m.g.add_node(types[rng() % 5]);
            if (r) {
              ids.push_back(r.value);
              NodeId id = r.value;
              undo.push_back([&m, id] { QVERIFY(m.g.remove_node(id).ok); });
            }
            break;
          }
          case 1: {
            NodeId id = pick();
            auto r = m.g.remove_node(id);
            if (r) {
              ids.erase(std::find(ids.begin(), ids.end(), id));
              RemovedNode saved = r.value;
              undo.push_back([&m, saved] { QVERIFY(m.g.restore_node(saved)); });
              ids.push_back(id);  // may come back through undo; removed-node picks then just fail
            }
            break;
          }
          case 2: {
            Edge e{{pick(), 0}, {pick(), static_cast<int>(rng() % 2)}};
            if (m.g.connect(e)) undo.push_back([&m, e] { QVERIFY(m.g.disconnect(e)); });
            break;
          }
          case 3: {
            if (m.g.edges().empty()) break;
            Edge e = m.g.edges()[rng() % m.g.edges().size()];
            if (m.g.disconnect(e)) undo.push_back([&m, e] { QVERIFY(m.g.connect(e)); });
            break;
          }
          case 4: {
            NodeId id = pick();
            if (!m.g.find(id) || m.g.node(id).type != "Linear") break;
            AttrValue old = m.g.attribute(id, "out_features");
            bool was_set = m.g.node(id).attrs.count("out_features");
            if (m.g.set_attribute(id, "out_features", int64_t(1 + rng() % 64)))
              undo.push_back([&m, id, old, was_set] {
                QVERIFY(was_set ? m.g.set_attribute(id, "out_features", old) : m.g.reset_attribute(id, "out_features"));
              });
            break;
          }
          case 5: {
            NodeId id = pick();
            if (!m.g.find(id)) break;
            NodeUi old = m.g.node(id).ui, moved = old;
            moved.x += 10;
            if (m.g.set_ui(id, moved)) undo.push_back([&m, id, old] { QVERIFY(m.g.set_ui(id, old)); });
            break;
          }
        }
        QCOMPARE(QString::fromStdString(m.g.consistency_error()), QString());
      }
      while (!undo.empty()) {
        undo.back()();
        undo.pop_back();
        QCOMPARE(QString::fromStdString(m.g.consistency_error()), QString());
      }
      QVERIFY2(m.g == start, ("trial " + std::to_string(trial)).c_str());
    }
  }
};

QTEST_APPLESS_MAIN(TestModelGraph)
#include "test_model_graph.moc"
