// ONNX import: an .onnx file → a Netloom project (model graph + weights), laid out left to
// right so it opens looking like a drawn model.
//
//   project::Project p = importers::import_onnx("resnet.onnx");
//   project::save_project(p, "resnet.netloom");
//
// Ops map onto layers (Gemm/MatMul+Add → Linear, Conv → Conv1d/Conv2d, the Erf pattern →
// GELU, Sigmoid·x → SiLU, Clip(0, 6) → ReLU6 …; the table is in onnx_importer.cpp). Any
// other op becomes a generic OnnxOp node that keeps its attributes and runs where the engine
// has the op (Note [Generic ONNX ops]); shape computations fold at import. Every failure is
// an nl::Error naming the file and what failed; nothing in a hostile file can crash the
// reader or make it read outside the model's folder (Note [External data]).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "engine/project/project.h"

namespace nl::importers {

struct OnnxImportOptions {
  int64_t max_file_bytes = (int64_t{2} << 30) - 1;  // protobuf's own ceiling for one message
  int max_nesting = 64;                             // protobuf recursion limit (subgraphs, …)
  // Graph inputs to freeze as constants, by name: a weight an exporter left as an input
  // (the ONNX backend tests feed Gemm's B and Conv's W that way) becomes the layer's weight.
  std::map<std::string, Tensor> frozen_inputs;
};

// Reads `path`; external data files resolve from its folder.
project::Project import_onnx(const std::string& path, const OnnxImportOptions& options = {});

// Reads a serialized model held in memory. `file` names it in messages; `folder` is where its
// external data lives (empty: external data is refused).
project::Project import_onnx_bytes(const std::string& bytes, const std::string& file, const std::string& folder,
                                   const OnnxImportOptions& options = {});

// A serialized TensorProto file (the backend tests' input_0.pb / output_0.pb), with the same
// size checks as initializers; errors name the file.
// `name` receives the tensor's name when given. `declared_elem_type`: the ONNX element type
// the model declares for the value, when known; a UINT16 file for a BFLOAT16 value is read as
// the bfloat16 bit patterns it holds (how onnx 1.12 writes bfloat16 test data).
Tensor read_onnx_tensor_file(const std::string& path, std::string* name = nullptr, int32_t declared_elem_type = 0);

}  // namespace nl::importers
