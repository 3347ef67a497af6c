// `netloom export PROJECT --output MODEL.onnx [--opset N]`: the project's model and weights as
// an ONNX file, checked by the ONNX checker before it is written.
#include <cstdio>

#include "app/cli/cli.h"
#include "app/cli/project_loading.h"
#include "engine/core/error.h"
#include "importers/onnx/onnx_export.h"

namespace nl::app {

namespace {

int export_model(const Arguments& args) {
  if (args.positionals().size() != 1) throw Error("expects one project file (netloom export PROJECT --output FILE)");
  auto out = args.value("output");
  if (!out) throw Error("--output MODEL.onnx is required");
  importers::OnnxExportOptions o;
  o.opset = static_cast<int>(
      args.integer("opset", importers::kOnnxMinExportOpset, importers::kOnnxMaxExportOpset).value_or(o.opset));
  run::GraphExecutor executor;
  LoadedModel m = load_model(args.positionals()[0], executor);
  // An untrained project still exports: its freshly initialised weights are the model's.
  if (!m.untrained.empty())
    std::fprintf(stderr, "netloom export: warning: %zu tensors have no trained weights (e.g. %s); exporting initial "
                 "values\n", m.untrained.size(), m.untrained.front().c_str());
  o.model_name = m.project.name;
  o.doc_string = m.project.description;
  importers::save_onnx(m.project.graph, m.model->state_dict(), *out, o);
  std::printf("wrote %s (opset %d)\n", out->c_str(), o.opset);
  return 0;
}

}  // namespace

Command export_command() {
  return {"export",
          "PROJECT --output MODEL.onnx [--opset N]",
          "Export the model and its weights as ONNX (checked by the ONNX checker).",
          {{"output", "FILE", "The .onnx file to write"},
           {"opset", "N", "ONNX opset version, 13-18 (default 17)"}},
          export_model};
}

}  // namespace nl::app
