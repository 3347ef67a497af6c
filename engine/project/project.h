// Netloom projects: a model graph, its training settings and (once trained) its weights,
// saved as a readable JSON ".netloom" file with the weights in a safetensors file beside it.
//
//   nl::project::Project p = nl::project::load_project("spirals.netloom");
//   p.training.epochs = 20;
//   nl::project::save_project(p, "spirals.netloom");
//
//   {"format": "netloom-project", "version": 2, "name": "Spirals", "description": "",
//    "graph": {"nodes": [...], "edges": [...]},            (engine/graph/graph_json.h)
//    "training": {"dataset": {...}, "optimizer": {...}, …}, (engine/project/training_settings.h)
//    "weights": "spirals.safetensors"}                       (or null when untrained)
//
// Note [Project format versions]: "version" is the layout of this file. Each older layout has
// a migration to the next, applied on load in turn, so only the current layout has a reader;
// a file from a newer Netloom is refused rather than half-read. Unknown members are ignored
// (a newer build may add settings without a version bump when older builds can do without).
//   version 1 (Netloom 0.1): nodes kept their position as top-level "x"/"y" and their
//     attributes as "params"; edges were [from node, from port, to node, to port]; training
//     settings were flat: "dataset": "<kind>", "dataset_path", "optimizer": "<kind>", "lr",
//     "momentum", "weight_decay", "schedule": "<kind>", plus batch_size, epochs, loss, seed,
//     validation_split.
//   version 2: the layout above.
//
// Note [Atomic project saves]: readers must only ever see the old project or the new one,
// even when the saving process is killed at any instant. Each file is written to a
// temporary in the same folder, flushed to disk and renamed over its target
// (io::AtomicFileWriter). Two files cannot be renamed at once, so the JSON is the commit
// point: the weights go to whichever of "<stem>.safetensors" and "<stem>.alt.safetensors"
// the current JSON does not reference, then the JSON naming them replaces the old one, and
// only then is the previous weights file deleted. A kill before the JSON's rename leaves the
// old JSON with its old, untouched weights; after it, the new pair. Temporaries left by a
// killed save are removed by the next save, so at most one is ever lying around.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/core/tensor.h"
#include "engine/graph/model_graph.h"
#include "engine/project/training_settings.h"

namespace nl::project {

inline constexpr int kProjectFormatVersion = 2;
inline constexpr const char* kProjectFormat = "netloom-project";

struct Project {
  graph::ModelGraph graph;
  TrainingSettings training;
  std::string name, description;
  std::map<std::string, Tensor> weights;  // state dict keyed "<node name>.<param>", empty when untrained
};

// Reads, migrates and checks a project (graph rules, settings, and that the weights file
// holds exactly the tensors the graph's layers have, with their shapes). Errors are
// nl::Error naming the file and the field path ("m.netloom: graph.nodes[2].type: unknown
// layer type 'Lienar'").
Project load_project(const std::string& path,
                     const graph::LayerRegistry& registry = graph::LayerRegistry::builtin());
// Atomic (Note [Atomic project saves]); the weights file sits beside `path`.
void save_project(const Project& project, const std::string& path);

// The JSON document of a project without touching files; `weights_file` is what "weights"
// names (empty: null).
nlohmann::json project_to_json(const Project& project, const std::string& weights_file);
// Reads a parsed document: migrates it to the current version, then reads graph and settings.
// The weights are left empty; `weights_file` receives what "weights" names (empty for null).
// `file` names the document in messages.
Project project_from_json(nlohmann::json doc, const graph::LayerRegistry& registry, const std::string& file,
                          std::string* weights_file = nullptr);

// Brings a document of an older version up to kProjectFormatVersion in place (Note [Project
// format versions]); refuses newer versions and documents that are not projects.
void migrate_project_json(nlohmann::json& doc, const std::string& file);

// Checks `weights` against what the graph's layers hold: the same names and shapes and
// dtypes, nothing missing, nothing extra. `file` names the weights file in messages. Nodes
// whose shapes cannot be inferred (an unfinished graph) are not checked.
void check_weights(const graph::ModelGraph& graph, const std::map<std::string, Tensor>& weights,
                   const std::string& file);

}  // namespace nl::project
