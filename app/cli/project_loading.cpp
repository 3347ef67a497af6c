// Loading a project and building its model, for the commands.
#include "app/cli/project_loading.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "engine/backends/backend.h"
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
    const std::string index = text == "cuda" ? "0" : text.substr(5);
    NL_CHECK(!index.empty() && index.find_first_not_of("0123456789") == std::string::npos,
             "--device: '", text, "' is not a device (use cpu, cuda or cuda:N)");
    const Device d = Device::cuda(std::stoi(index));
    // The CUDA backend serves a device only when it answers (engine/backends).
    NL_CHECK(backend_available(d), "--device ", text, ": ", device_unavailable_reason(d));
    return d;
  }
  throw Error("--device: '" + text + "' is not a device (use cpu, cuda or cuda:N)");
}

}  // namespace nl::app
