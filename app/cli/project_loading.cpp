// Loading a project and building its model, for the commands.
#include "app/cli/project_loading.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "engine/core/error.h"
#include "importers/onnx/onnx_import.h"

namespace nl::app {

std::string project_folder(const std::string& project_path) {
  std::filesystem::path p(project_path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

bool is_onnx_file(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".onnx";
}

project::Project load_project_or_onnx(const std::string& path) {
  // An .onnx file is imported on the fly, so `netloom run MODEL.onnx` needs no project.
  return is_onnx_file(path) ? importers::import_onnx(path) : project::load_project(path);
}

LoadedModel load_model(const std::string& project_path, run::GraphExecutor& executor) {
  LoadedModel out{load_project_or_onnx(project_path), nullptr, {}};
  out.model = executor.build(out.project.graph);
  if (!out.project.weights.empty()) out.untrained = out.model->load_weights(out.project.weights);
  else
    for (const auto& [name, t] : out.model->state_dict()) out.untrained.push_back(name);
  return out;
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    int index = text == "cuda" ? 0 : std::stoi(text.substr(5));
#ifdef NETLOOM_HAVE_CUDA
    // The CUDA backend registers itself only when a device answers (engine/backends).
    (void)index;
    throw Error("--device " + text + ": the CUDA backend is not available in this build yet");
#else
    (void)index;
    throw Error("--device " + text + ": this build of Netloom has no CUDA support (built without nvcc)");
#endif
  }
  throw Error("--device: '" + text + "' is not a device (use cpu or cuda)");
}

}  // namespace nl::app
