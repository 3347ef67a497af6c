// The model graph as JSON, for project files and the editor's copy/paste.
//
//   nlohmann::json j = nl::graph::graph_to_json(g);
//   nl::graph::ModelGraph copy = nl::graph::graph_from_json(j, registry);   // checks every rule
//
//   {"nodes": [{"id": 1, "type": "Input", "name": "x", "attrs": {"shape": [-1, 2]},
//               "ui": {"x": 0.0, "y": 0.0, "color": "", "collapsed": false, "group": ""}},
//              {"id": 2, "type": "Linear", "name": "fc1", "attrs": {"out_features": 16}, "ui": {…}}],
//    "edges": [{"from": [1, 0], "to": [2, 0]}]}
//
// Note [Attribute encoding]: attribute values are plain JSON (bool, number, string, array)
// and the node's layer schema decides the kind when reading. JSON alone cannot tell 1 from
// 1.0 once parsed by every tool, nor an empty int list from an empty float list, but the
// schema can: a Float attribute reads 1 or 1.0 as the double 1.0, an Ints attribute reads []
// as an empty int list. Writers still keep the distinction visible to people: doubles are
// always written with a fraction or exponent (1.0, 1e-05), in the shortest form that parses
// back bit-identical; ints as integers. An Int attribute refuses 3.0 and an Ints
// attribute refuses 0.5 rather than truncating. Attributes are only those the node sets
// (defaults come from the schema), so a default changed in a later build applies to old files.
//
// Reading goes through ModelGraph's edit requests (insert_node, connect), so a file can never
// hold a graph the editor could not have built; each failure is an nl::Error naming the file
// (when given) and the field: "a.netloom: graph.nodes[3].attrs.kernel_size: expected int
// list, got "3"". Unknown members are ignored (Note in json_fields.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/graph/model_graph.h"

namespace nl::graph {

nlohmann::json attr_to_json(const AttrValue& value);
nlohmann::json node_to_json(const Node& node);
nlohmann::json graph_to_json(const ModelGraph& graph);

// `path` is the field path of `j` in its document ("graph" inside a project, "" alone) and
// `file` the document's name, both only for messages.
ModelGraph graph_from_json(const nlohmann::json& j, const LayerRegistry& registry = LayerRegistry::builtin(),
                           const std::string& path = {}, const std::string& file = {});

// --- Snippets: the clipboard form of a selection ---------------------------------------
// {"format": "netloom-snippet", "nodes": [...], "edges": [...]} with the selected nodes and
// only the edges between them (edges to unselected nodes are dropped).
nlohmann::json snippet_to_json(const ModelGraph& graph, const std::vector<NodeId>& ids);

// What pasting a snippet into `target` would add: nodes with fresh ids (from target's
// next_id) and names unique in target ("fc1" stays when free, else "fc1_2", "fc1_3" …),
// positions shifted by `offset_x/y`, the snippet's edges renumbered, and old → new ids.
// Nothing is changed, so the editor can turn it into undoable commands.
struct PastePlan {
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  std::map<NodeId, NodeId> id_map;  // snippet id → id in the target
};
PastePlan plan_paste(const ModelGraph& target, const nlohmann::json& snippet, double offset_x = 0,
                     double offset_y = 0);
// Applies plan_paste's result through insert_node and connect; all or nothing (on an
// error the nodes already added are removed again and nl::Error is thrown). Returns the id map.
std::map<NodeId, NodeId> paste_snippet(ModelGraph& target, const nlohmann::json& snippet, double offset_x = 0,
                                       double offset_y = 0);

}  // namespace nl::graph
