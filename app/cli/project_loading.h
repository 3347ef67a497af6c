// What several commands share: loading a project and building its model with its weights.
#pragma once
#include <memory>
#include <string>

#include "engine/project/project.h"
#include "engine/run/graph_executor.h"

namespace nl::app {

struct LoadedModel {
  project::Project project;
  std::shared_ptr<run::GraphModel> model;
  std::vector<std::string> untrained;  // model tensors the project had no weights for
};

// Loads PROJECT (a .netloom project, or an .onnx model imported on the fly), builds its
// model and copies the weights in. Throws nl::Error naming the file (load) or listing the
// graph's errors (build).
LoadedModel load_model(const std::string& project_path, run::GraphExecutor& executor);

// A .netloom project, or an .onnx model imported on the fly.
project::Project load_project_or_onnx(const std::string& path);

// True for a path ending in .onnx (any case).
bool is_onnx_file(const std::string& path);

// The folder a project file lives in (relative paths in it resolve from there).
std::string project_folder(const std::string& project_path);

// Parses --device: "cpu" or "cuda"/"cuda:N"; throws when CUDA is asked for and absent.
Device parse_device(const std::string& text);

}  // namespace nl::app
