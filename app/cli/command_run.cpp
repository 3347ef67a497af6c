// `netloom run PROJECT --input NAME=FILE.npy … --output DIR`: inference with the project's
// weights (or straight on an .onnx model); each Output is written as DIR/<output name>.npy.
#include <cstdio>
#include <filesystem>

#include "app/cli/cli.h"
#include "app/cli/project_loading.h"
#include "engine/core/error.h"
#include "engine/io/npy.h"
#include "engine/ops/ops.h"

namespace nl::app {

namespace {

int run_model(const Arguments& args) {
  if (args.positionals().size() != 1) throw Error("expects one project file (netloom run PROJECT --input …)");
  auto out_dir = args.value("output");
  if (!out_dir) throw Error("--output DIR is required");
  if (args.values("input").empty()) throw Error("--input NAME=FILE.npy is required");

  run::GraphExecutor executor;
  LoadedModel m = load_model(args.positionals()[0], executor);
  if (!m.untrained.empty())
    std::fprintf(stderr, "netloom run: warning: %zu tensors have no trained weights (e.g. %s); using initial values\n",
                 m.untrained.size(), m.untrained.front().c_str());
  Device device = parse_device(args.value("device").value_or("cpu"));
  m.model->to(device);
  m.model->eval();

  std::map<std::string, Tensor> inputs;
  for (const std::string& spec : args.values("input")) {
    std::string name, file;
    if (auto eq = spec.find('='); eq != std::string::npos) {
      name = spec.substr(0, eq);
      file = spec.substr(eq + 1);
    } else if (m.model->input_names().size() == 1) {
      name = m.model->input_names()[0];  // one input: the name may be left out
      file = spec;
    } else {
      throw Error("--input " + spec + ": the model has several inputs; write NAME=FILE.npy");
    }
    if (inputs.count(name)) throw Error("--input " + name + " is given twice");
    inputs[name] = load_npy(file).to(device);
  }

  std::map<std::string, Tensor> outputs;
  {
    NoGradGuard no_grad;
    outputs = m.model->run(inputs);
  }
  std::filesystem::create_directories(*out_dir);
  for (const auto& [name, t] : outputs) {
    std::string path = (std::filesystem::path(*out_dir) / (name + ".npy")).string();
    save_npy(path, t.to(Device::cpu()));
    std::printf("%s: %s → %s\n", name.c_str(), t.shape().str().c_str(), path.c_str());
  }
  return 0;
}

}  // namespace

Command run_command() {
  return {"run",
          "PROJECT|MODEL.onnx --input NAME=FILE.npy [--input …] --output DIR",
          "Run the trained model (a project, or an ONNX file directly) on .npy inputs and write each output as "
          "DIR/<output>.npy.",
          {{"input", "NAME=FILE.npy", "a model input (NAME may be left out when there is one input)", true},
           {"output", "DIR", "folder for the outputs"},
           {"device", "DEVICE", "cpu (default) or cuda"}},
          run_model};
}

}  // namespace nl::app
