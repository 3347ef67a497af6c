// ONNX export: a model graph and its weights → an ONNX model (opset 13–18, default 17) that
// the ONNX checker and strict shape inference accept.
//
//   importers::OnnxExportOptions o;  o.opset = 17;
//   std::string bytes = importers::export_onnx(project.graph, weights, o);   // serialized ModelProto
//   importers::save_onnx(project.graph, weights, "model.onnx", o);
//
// Note [ONNX names]: each layer becomes one ONNX node named like the layer (helper nodes of a
// decomposition are "<layer>/<what>"), its first output value carries the layer's name
// ("<layer>:<port>" for further outputs), weights are initializers named by the state-dict
// key ("conv1.weight"), graph inputs are named like Input nodes and graph outputs like Output
// nodes. So an exported file reads like the drawn model, and the importer gets the names back.
#pragma once
#include <map>
#include <string>

#include "engine/core/tensor.h"
#include "engine/graph/model_graph.h"

namespace nl::importers {

inline constexpr int kOnnxDefaultOpset = 17;
inline constexpr int kOnnxMinExportOpset = 13;
inline constexpr int kOnnxMaxExportOpset = 18;

struct OnnxExportOptions {
  int opset = kOnnxDefaultOpset;
  std::string model_name = "netloom";  // the ONNX graph's name
  std::string doc_string;              // the model's description
};

// The serialized ModelProto. `weights` is a state dict keyed "<module name>.<param>"
// (run::module_name_for); every parameter and buffer the exported layers use must be there.
// Throws nl::Error naming the node and layer type for a layer with no ONNX mapping yet, a
// missing weight, or a model the ONNX checker or shape inference refuses.
std::string export_onnx(const graph::ModelGraph& graph, const std::map<std::string, Tensor>& weights,
                        const OnnxExportOptions& options = {});

// export_onnx written to `path` (atomically: a temporary renamed over it).
void save_onnx(const graph::ModelGraph& graph, const std::map<std::string, Tensor>& weights, const std::string& path,
               const OnnxExportOptions& options = {});

}  // namespace nl::importers
