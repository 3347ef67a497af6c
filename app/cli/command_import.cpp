// `netloom import MODEL.onnx --output PROJECT.netloom`: an ONNX model as a Netloom project
// (graph laid out left to right, weights beside it).
#include <cstdio>

#include "app/cli/cli.h"
#include "engine/core/error.h"
#include "engine/graph/graph_analysis.h"
#include "engine/project/project.h"
#include "importers/onnx/onnx_import.h"

namespace nl::app {

namespace {

int import_model(const Arguments& args) {
  if (args.positionals().size() != 1) throw Error("expects one ONNX file (netloom import MODEL.onnx --output FILE)");
  auto out = args.value("output");
  if (!out) throw Error("--output PROJECT.netloom is required");
  project::Project p = importers::import_onnx(args.positionals()[0]);
  graph::GraphAnalysis a = graph::analyze(p.graph);
  for (const auto& m : a.messages) {
    const graph::Node* n = p.graph.find(m.node);
    std::fprintf(stderr, "netloom import: %s: %s%s\n", m.severity == graph::Severity::Error ? "error" : "warning",
                 n ? ("node '" + n->name + "' (" + n->type + "): ").c_str() : "", m.text.c_str());
  }
  project::save_project(p, *out);
  std::printf("wrote %s: %zu layers, %s parameters\n", out->c_str(), p.graph.size(),
              graph::human_count(a.total_params()).c_str());
  return 0;
}

}  // namespace

Command import_command() {
  return {"import", "MODEL.onnx --output PROJECT.netloom",
          "Import an ONNX model as a project (graph laid out, weights kept).",
          {{"output", "FILE", "The .netloom project to write (weights go beside it)"}}, import_model};
}

}  // namespace nl::app
