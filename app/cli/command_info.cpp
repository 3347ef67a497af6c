// `netloom info PROJECT` (summary table) and `netloom validate PROJECT` (every problem, with
// node ids; exit status 1 when there is an error).
#include <cstdio>

#include "app/cli/cli.h"
#include "app/cli/project_loading.h"
#include "engine/core/error.h"
#include "engine/graph/graph_analysis.h"
#include "engine/project/project.h"

namespace nl::app {

namespace {

std::string require_project(const Arguments& args, const char* command) {
  if (args.positionals().size() != 1)
    throw Error(std::string("expects one project file (netloom ") + command + " PROJECT)");
  return args.positionals()[0];
}

// "error: node 4 'fc2' (Linear), input 'input': expects …"
std::string describe(const graph::ModelGraph& g, const graph::NodeMessage& m) {
  std::string text = m.severity == graph::Severity::Error ? "error: " : "warning: ";
  if (const graph::Node* n = g.find(m.node)) {
    text += "node " + std::to_string(n->id) + " '" + n->name + "' (" + n->type + ")";
    if (m.input_port >= 0) text += ", input '" + g.input_port_spec(n->id, m.input_port).name + "'";
    text += ": ";
  }
  return text + m.text;
}

int info(const Arguments& args) {
  std::string path = require_project(args, "info");
  project::Project p = load_project_or_onnx(path);
  graph::GraphAnalysis a = graph::analyze(p.graph);
  std::printf("%s%s\n", p.name.empty() ? path.c_str() : p.name.c_str(), p.weights.empty() ? "" : " (trained)");
  if (!p.description.empty()) std::printf("%s\n", p.description.c_str());
  std::printf("\n%s", graph::summarize(p.graph, a).to_text().c_str());
  int64_t errors = 0;
  for (const auto& m : a.messages) errors += m.severity == graph::Severity::Error;
  if (!a.messages.empty()) {
    std::printf("\n");
    for (const auto& m : a.messages) std::printf("%s\n", describe(p.graph, m).c_str());
  }
  std::printf("\n%zu layers, %s parameters, %s FLOPs per sample%s\n", p.graph.size(),
              graph::human_count(a.total_params()).c_str(), graph::human_count(a.total_flops()).c_str(),
              errors ? ", with errors (see `netloom validate`)" : "");
  return 0;
}

int validate(const Arguments& args) {
  std::string path = require_project(args, "validate");
  project::Project p = load_project_or_onnx(path);
  graph::GraphAnalysis a = graph::analyze(p.graph);
  int64_t errors = 0, warnings = 0;
  for (const auto& m : a.messages) {
    std::printf("%s\n", describe(p.graph, m).c_str());
    (m.severity == graph::Severity::Error ? errors : warnings)++;
  }
  std::printf("%s: %lld error(s), %lld warning(s)\n", path.c_str(), static_cast<long long>(errors),
              static_cast<long long>(warnings));
  return errors ? 1 : 0;
}

}  // namespace

Command info_command() {
  return {"info", "PROJECT", "Print the model summary: layers, output shapes, parameters, FLOPs, memory.", {}, info};
}

Command validate_command() {
  return {"validate", "PROJECT", "Check the model's shapes; print every problem with its node id (exit 1 on errors).",
          {}, validate};
}

}  // namespace nl::app
