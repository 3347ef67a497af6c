// Model graph ↔ JSON: every attribute kind round-trips exactly, snippets paste with fresh ids
// and unique names, and malformed documents give errors that name the field.
#include <QtTest/QtTest>

#include "engine/core/error.h"
#include "engine/graph/graph_json.h"
#include "mini_registry.h"

using namespace nl;
using namespace nl::graph;
using nlohmann::json;

namespace {

// The message graph_from_json gives for `text` ("" when it reads).
std::string read_error(const std::string& text) {
  try {
    graph_from_json(json::parse(text), testing::mini_registry(), "graph", "g.json");
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

// A graph with one Probe node whose attributes are `attrs`, through JSON text and back.
AttrMap probe_round_trip(const AttrMap& attrs) {
  ModelGraph g(testing::mini_registry());
  NodeId id = g.add_node("Probe", "p", attrs).value;
  std::string text = graph_to_json(g).dump(2);
  ModelGraph back = graph_from_json(json::parse(text), testing::mini_registry());
  return back.node(id).attrs;
}

}  // namespace

class TestGraphJson : public QObject {
  Q_OBJECT
 private slots:
  void whole_graph_round_trips() {
    ModelGraph g = testing::mini_mlp();
    json j = graph_to_json(g);
    ModelGraph back = graph_from_json(json::parse(j.dump(2)), testing::mini_registry());
    QVERIFY(back == g);
    QCOMPARE(back.consistency_error(), std::string());
    for (const auto& [id, n] : g.nodes()) QVERIFY(back.node(id).ui == n.ui);
    QCOMPARE(graph_to_json(back).dump(), j.dump());  // stable bytes on a second save
  }

  void every_attribute_kind_round_trips() {
    AttrMap attrs{{"flag", true},
                  {"count", int64_t{-7}},
                  {"ratio", 1.0},  // a whole double must stay a double
                  {"label", std::string("héllo \"quoted\"\n")},
                  {"mode", std::string("valid")},
                  {"sizes", std::vector<int64_t>{1, 2, 99}},
                  {"scales", std::vector<double>{0.1, 1.0, 1e-300, 2.5e10}}};
    AttrMap back = probe_round_trip(attrs);
    QVERIFY(back == attrs);
    QVERIFY(std::holds_alternative<double>(back.at("ratio")));
    // Doubles come back bit-identical, including ones with no short decimal form.
    AttrMap awkward{{"ratio", 0.1 + 0.2}, {"scales", std::vector<double>{1.0 / 3, -0.0, 5e-324}}};
    QVERIFY(probe_round_trip(awkward) == awkward);
  }

  void empty_lists_keep_their_kind() {
    AttrMap attrs{{"sizes", std::vector<int64_t>{}}, {"scales", std::vector<double>{}}};
    AttrMap back = probe_round_trip(attrs);
    QVERIFY(std::holds_alternative<std::vector<int64_t>>(back.at("sizes")));
    QVERIFY(std::holds_alternative<std::vector<double>>(back.at("scales")));
    // And a float list written with integers (by hand) reads as floats.
    ModelGraph g = graph_from_json(
        json::parse(R"({"nodes": [{"id": 4, "type": "Probe", "name": "p", "attrs": {"scales": [1, 2], "ratio": 3}}]})"),
        testing::mini_registry());
    QVERIFY(g.node(4).attrs.at("scales") == AttrValue(std::vector<double>{1.0, 2.0}));
    QVERIFY(g.node(4).attrs.at("ratio") == AttrValue(3.0));
  }

  void doubles_are_written_as_floats() {
    ModelGraph g(testing::mini_registry());
    g.add_node("Probe", "p", {{"ratio", 2.0}, {"count", int64_t{2}}});
    std::string text = graph_to_json(g).dump();
    QVERIFY(text.find("\"ratio\":2.0") != std::string::npos);
    QVERIFY(text.find("\"count\":2,") != std::string::npos || text.find("\"count\":2}") != std::string::npos);
  }

  void malformed_graphs_name_the_field() {
    const std::string node = R"({"id": 1, "type": "Probe", "name": "p", "attrs": %s})";
    auto with_attrs = [&](const std::string& attrs) {
      std::string n = node;
      n.replace(n.find("%s"), 2, attrs);
      return R"({"nodes": [)" + n + "]}";
    };
    struct Case {
      std::string text, expected;
    };
    const std::vector<Case> cases = {
        {with_attrs(R"({"sizes": "3"})"), R"(g.json: graph.nodes[0].attrs.sizes: expected an int list, got "3")"},
        {with_attrs(R"({"sizes": [1, 2.5]})"), "g.json: graph.nodes[0].attrs.sizes[1]: expected an int, got 2.5"},
        {with_attrs(R"({"count": 3.0})"), "g.json: graph.nodes[0].attrs.count: expected an int, got 3.0"},
        {with_attrs(R"({"flag": 1})"), "g.json: graph.nodes[0].attrs.flag: expected true or false, got 1"},
        {with_attrs(R"({"mode": "full"})"), "g.json: graph.nodes[0].attrs.mode: mode = \"full\" is not one of: same, valid"},
        {with_attrs(R"({"count": 5000})"), "g.json: graph.nodes[0].attrs.count: count = 5000 is outside [-1000, 1000]"},
        {with_attrs(R"({"colour": 1})"), "g.json: graph.nodes[0].attrs.colour: Probe has no attribute 'colour'"},
        {R"({"nodes": [{"id": 1, "type": "Lienar", "name": "a"}]})",
         "g.json: graph.nodes[0].type: unknown layer type 'Lienar'"},
        {R"({"nodes": [{"id": 1, "type": "ReLU"}]})", "g.json: graph.nodes[0]: missing field 'name'"},
        {R"({"nodes": [{"id": 1, "type": "ReLU", "name": "a"}, {"id": 1, "type": "ReLU", "name": "b"}]})",
         "g.json: graph.nodes[1]: node id 1 is already in use"},
        {R"({"nodes": [{"id": 1, "type": "ReLU", "name": "a"}, {"id": 2, "type": "ReLU", "name": "a"}]})",
         "g.json: graph.nodes[1]: the name 'a' is already used"},
        {R"({"nodes": [{"id": 1, "type": "ReLU", "name": "a"}], "edges": [{"from": [1, 0], "to": [9, 0]}]})",
         "g.json: graph.edges[0]: no node with id 9"},
        {R"({"nodes": [{"id": 1, "type": "ReLU", "name": "a"}], "edges": [{"from": [1, 0], "to": [1]}]})",
         "g.json: graph.edges[0].to: expected [node id, port], got [1]"},
        {R"({"nodes": [{"id": 1, "type": "ReLU", "name": "a"}, {"id": 2, "type": "ReLU", "name": "b"}],
             "edges": [{"from": [1, 0], "to": [2, 0]}, {"from": [2, 0], "to": [1, 0]}]})",
         "g.json: graph.edges[1]: connecting ReLU 'b' to ReLU 'a' would make a cycle"},
        {R"({"nodes": {}})", "g.json: graph.nodes: expected an array, got {}"},
        {R"({"edges": []})", "g.json: graph: missing field 'nodes'"},
    };
    for (const Case& c : cases) {
      std::string got = read_error(c.text);
      if (got != c.expected) qWarning("document: %s", c.text.c_str());
      QCOMPARE(got, c.expected);
    }
  }

  void snippet_pastes_with_fresh_ids_and_unique_names() {
    ModelGraph source = testing::mini_mlp();
    NodeId fc1 = source.find_by_name("fc1")->id, act = source.find_by_name("act")->id;
    NodeId fc2 = source.find_by_name("fc2")->id;
    json clip = json::parse(snippet_to_json(source, {fc1, act, fc2}).dump());
    QCOMPARE(clip["nodes"].size(), size_t(3));
    QCOMPARE(clip["edges"].size(), size_t(2));  // the edges to x and y are not in the selection

    // Into the same graph: every name is taken, every id is new.
    ModelGraph target = source;
    const NodeId first_new = target.next_id();
    std::map<NodeId, NodeId> ids = paste_snippet(target, clip, 40, 40);
    QCOMPARE(ids.size(), size_t(3));
    QCOMPARE(target.size(), source.size() + 3);
    QCOMPARE(target.consistency_error(), std::string());
    for (const auto& [old_id, new_id] : ids) {
      QVERIFY(new_id >= first_new);
      const graph::Node& pasted = target.node(new_id);
      const graph::Node& original = source.node(old_id);
      QCOMPARE(pasted.name, original.name + "_2");
      QVERIFY(pasted.attrs == original.attrs);
      QCOMPARE(pasted.ui.x, original.ui.x + 40);
    }
    QVERIFY(target.edge_into({ids[act], 0}) == (Edge{{ids[fc1], 0}, {ids[act], 0}}));
    QVERIFY(target.edge_into({ids[fc2], 0}) == (Edge{{ids[act], 0}, {ids[fc2], 0}}));
    QVERIFY(!target.edge_into({ids[fc1], 0}));  // its input stayed behind

    // Twice more: names keep counting up; an empty graph keeps the names as they were.
    ids = paste_snippet(target, clip);
    QCOMPARE(target.node(ids[fc1]).name, std::string("fc1_3"));
    ModelGraph empty(testing::mini_registry());
    ids = paste_snippet(empty, clip);
    QCOMPARE(empty.node(ids[fc1]).name, std::string("fc1"));
  }

  void failed_paste_changes_nothing() {
    ModelGraph target = testing::mini_mlp();
    ModelGraph before = target;
    // The second edge goes into an input the first already uses: connect refuses it.
    json clip = json::parse(R"({"format": "netloom-snippet",
      "nodes": [{"id": 1, "type": "ReLU", "name": "a"}, {"id": 2, "type": "ReLU", "name": "b"},
                {"id": 3, "type": "ReLU", "name": "c"}],
      "edges": [{"from": [1, 0], "to": [3, 0]}, {"from": [2, 0], "to": [3, 0]}]})");
    QVERIFY_THROWS_EXCEPTION(Error, paste_snippet(target, clip));
    QVERIFY(target == before);
    json wrong = json::parse(R"({"format": "netloom-project", "nodes": []})");
    try {
      paste_snippet(target, wrong);
      QFAIL("pasted a project");
    } catch (const Error& e) {
      QCOMPARE(std::string(e.what()), std::string(R"(snippet: format: expected "netloom-snippet", got "netloom-project")"));
    }
  }
};

QTEST_APPLESS_MAIN(TestGraphJson)
#include "test_graph_json.moc"
