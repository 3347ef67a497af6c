// Project files: JSON layout and its migrations, weights beside it, atomic saves.
#include "engine/project/project.h"

#include <filesystem>
#include <set>

#include "engine/core/error.h"
#include "engine/graph/graph_analysis.h"
#include "engine/graph/graph_json.h"
#include "engine/io/file_bytes.h"
#include "engine/io/json_fields.h"
#include "engine/io/safetensors.h"

namespace nl::project {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
fs::path path_from_utf8(const std::string& s) { return fs::path(std::u8string(s.begin(), s.end())); }
std::string utf8(const fs::path& p) {
  std::u8string s = p.u8string();
  return std::string(s.begin(), s.end());
}
}  // namespace

// ---------------------------------------------------------------------------------------
// Migrations (Note [Project format versions])

namespace {

// Moves member `from` of object `src` to `to` of object `dst`, when present.
void move_member(json& src, const char* from, json& dst, const char* to) {
  if (!src.is_object() || !src.contains(from)) return;
  dst[to] = std::move(src[from]);
  src.erase(from);
}

void migrate_graph_v1(json& graph) {
  if (!graph.is_object()) return;  // the v2 reader reports it
  if (graph.contains("nodes") && graph["nodes"].is_array())
    for (json& n : graph["nodes"]) {
      if (!n.is_object()) continue;
      move_member(n, "params", n, "attrs");
      json ui = json::object();
      move_member(n, "x", ui, "x");
      move_member(n, "y", ui, "y");
      if (!ui.empty()) n["ui"] = ui;
    }
  if (graph.contains("edges") && graph["edges"].is_array())
    for (json& e : graph["edges"])
      if (e.is_array() && e.size() == 4) e = json{{"from", {e[0], e[1]}}, {"to", {e[2], e[3]}}};
}

void migrate_training_v1(json& t) {
  if (!t.is_object()) return;
  json dataset = json::object(), optimizer = json::object(), schedule = json::object();
  move_member(t, "dataset", dataset, "kind");
  move_member(t, "dataset_path", dataset, "path");
  move_member(t, "validation_split", dataset, "validation_split");
  move_member(t, "optimizer", optimizer, "kind");
  for (const char* key : {"lr", "momentum", "weight_decay"}) move_member(t, key, optimizer, key);
  move_member(t, "schedule", schedule, "kind");
  t["dataset"] = dataset;
  t["optimizer"] = optimizer;
  t["schedule"] = schedule;
}

void migrate_v1_to_v2(json& doc) {
  if (doc.contains("graph")) migrate_graph_v1(doc["graph"]);
  if (doc.contains("training")) migrate_training_v1(doc["training"]);
}

// migrations[v - 1] turns version v into v + 1.
using Migration = void (*)(json&);
constexpr Migration kMigrations[] = {migrate_v1_to_v2};
static_assert(std::size(kMigrations) == kProjectFormatVersion - 1, "one migration per older version");

}  // namespace

void migrate_project_json(json& doc, const std::string& file) {
  io::JsonField root(doc, "", file);
  if (!doc.is_object()) root.fail("not a Netloom project (expected a JSON object, got " + io::json_excerpt(doc) + ")");
  io::JsonField format = root["format"];
  if (!format.value().is_string() || format.value().get<std::string>() != kProjectFormat)
    format.fail(std::string("not a Netloom project (expected \"") + kProjectFormat + "\", got " +
                io::json_excerpt(format.value()) + ")");
  io::JsonField version_field = root["version"];
  int64_t version = version_field.as_int();
  if (version > kProjectFormatVersion)
    fail("file ", file, " was written by a newer Netloom (format version ", version, "; this build reads up to ",
         kProjectFormatVersion, ")");
  if (version < 1) version_field.fail("format version " + std::to_string(version) + " does not exist");
  for (; version < kProjectFormatVersion; ++version) kMigrations[version - 1](doc);
  doc["version"] = kProjectFormatVersion;
}

// ---------------------------------------------------------------------------------------
// JSON

json project_to_json(const Project& p, const std::string& weights_file) {
  // Member order is nlohmann's (sorted); the format and version are what a reader checks first.
  return json{{"format", kProjectFormat},
              {"version", kProjectFormatVersion},
              {"name", p.name},
              {"description", p.description},
              {"graph", graph::graph_to_json(p.graph)},
              {"training", to_json(p.training)},
              {"weights", weights_file.empty() ? json(nullptr) : json(weights_file)}};
}

Project project_from_json(json doc, const graph::LayerRegistry& registry, const std::string& file,
                          std::string* weights_file) {
  migrate_project_json(doc, file);
  io::JsonField root(doc, "", file);
  Project p{graph::ModelGraph(registry), {}, {}, {}, {}};
  root.read("name", p.name);
  root.read("description", p.description);
  p.graph = graph::graph_from_json(root["graph"].value(), registry, "graph", file);
  if (auto t = root.find("training")) p.training = training_settings_from_json(*t);
  std::string weights;
  if (auto w = root.find("weights")) {
    weights = w->as_string();
    if (weights.empty()) w->fail("expected a file name or null, got \"\"");
  }
  if (weights_file) *weights_file = weights;
  return p;
}

// ---------------------------------------------------------------------------------------
// Weights

void check_weights(const graph::ModelGraph& graph, const std::map<std::string, Tensor>& weights,
                   const std::string& file) {
  graph::GraphAnalysis analysis = graph::analyze(graph);
  std::set<std::string> checked_nodes;
  std::set<std::string> expected;
  for (const auto& [id, node] : graph.nodes()) {
    auto it = analysis.nodes.find(id);
    if (it == analysis.nodes.end() || !it->second.inferred) continue;
    const graph::LayerSchema& schema = graph.registry().get(node.type);
    std::vector<const graph::TensorInfo*> inputs;
    for (const auto& in : it->second.inputs) inputs.push_back(in ? &*in : nullptr);
    std::map<std::string, Tensor> state;
    try {
      graph::LayerContext ctx(schema, graph.resolved_attributes(id), inputs);
      graph::Runnable runnable = schema.build(ctx);
      if (runnable.module) state = runnable.module->state_dict();
    } catch (const graph::LayerError&) {
      continue;  // a layer that cannot be built yet has nothing to check against
    }
    checked_nodes.insert(node.name);
    const std::string where = " of node '" + node.name + "' (" + node.type + ")";
    for (const auto& [key, want] : state) {
      std::string name = node.name + "." + key;
      expected.insert(name);
      auto w = weights.find(name);
      if (w == weights.end()) fail(file, ": tensor '", name, "' is missing: it holds ", key, where);
      if (w->second.shape() != want.shape())
        fail(file, ": tensor '", name, "' has shape ", w->second.shape().str(), " but ", key, where, " is ",
             want.shape().str());
      if (w->second.dtype() != want.dtype())
        fail(file, ": tensor '", name, "' is ", dtype_name(w->second.dtype()), " but ", key, where, " is ",
             dtype_name(want.dtype()));
    }
  }
  for (const auto& [name, t] : weights) {
    if (expected.count(name)) continue;
    std::string owner;  // the longest node name that prefixes the tensor's name
    for (const auto& [id, node] : graph.nodes())
      if (name.rfind(node.name + ".", 0) == 0 && node.name.size() > owner.size()) owner = node.name;
    if (owner.empty()) fail(file, ": tensor '", name, "' belongs to no node of the graph");
    if (checked_nodes.count(owner)) fail(file, ": tensor '", name, "' is not a parameter of node '", owner, "'");
  }
}

// ---------------------------------------------------------------------------------------
// Files

Project load_project(const std::string& path, const graph::LayerRegistry& registry) {
  std::string weights_file;
  Project p = project_from_json(io::parse_json_file(path), registry, path, &weights_file);
  if (!weights_file.empty()) {
    fs::path folder = path_from_utf8(path).parent_path();
    std::string weights_path = utf8(folder / path_from_utf8(weights_file));
    std::error_code ec;
    if (!fs::is_regular_file(path_from_utf8(weights_path), ec))
      fail(path, ": weights: the weights file '", weights_file, "' does not exist (looked for ", weights_path, ")");
    p.weights = load_safetensors(weights_path);
    check_weights(p.graph, p.weights, weights_path);
  }
  return p;
}

namespace {

// What the project file at `path` names as its weights, or "" when there is no readable file.
std::string referenced_weights(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path_from_utf8(path), ec)) return {};
  try {
    json doc = io::parse_json_file(path);
    if (doc.is_object() && doc.contains("weights") && doc["weights"].is_string())
      return doc["weights"].get<std::string>();
  } catch (const Error&) {
    // Unreadable: nothing valid refers to either weights slot.
  }
  return {};
}

// Removes "<name>.tmp-XXXXXX" files that io::AtomicFileWriter left when a save was killed.
void remove_stale_temporaries(const fs::path& folder, const std::vector<std::string>& names) {
  std::error_code ec;
  for (fs::directory_iterator it(folder.empty() ? fs::path(".") : folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string file = utf8(it->path().filename());
    for (const auto& n : names) {
      std::string prefix = n + ".tmp-";
      if (file.size() == prefix.size() + 6 && file.rfind(prefix, 0) == 0) {
        std::error_code ignored;
        fs::remove(it->path(), ignored);
      }
    }
  }
}

}  // namespace

void save_project(const Project& project, const std::string& path) {
  const fs::path target = path_from_utf8(path);
  const fs::path folder = target.parent_path();
  const std::string stem = utf8(target.stem());
  const std::string slots[2] = {stem + ".safetensors", stem + ".alt.safetensors"};
  remove_stale_temporaries(folder, {utf8(target.filename()), slots[0], slots[1]});

  std::string weights_file;
  if (!project.weights.empty()) {
    weights_file = referenced_weights(path) == slots[0] ? slots[1] : slots[0];
    save_safetensors(utf8(folder / path_from_utf8(weights_file)), project.weights, {{"format", "pt"}});
  }
  const std::string text = project_to_json(project, weights_file).dump(2) + "\n";
  io::AtomicFileWriter writer(path);
  writer.write(text.data(), text.size());
  writer.commit();
  // Committed: the other slot is no longer referenced by anything.
  for (const auto& slot : slots)
    if (slot != weights_file) {
      std::error_code ignored;
      fs::remove(folder / path_from_utf8(slot), ignored);
    }
}

}  // namespace nl::project
