// Everything one training run of a project needs, built from the project's graph, weights
// and training settings: the dataset and its loaders, the model (fresh or from the project's
// weights), the optimiser, the schedule and the trainer. `netloom train`, the GUI's run
// controller and the tests all start runs through this, so they train the same way.
//
//   nl::run::GraphExecutor executor;
//   auto run = nl::run::prepare_training_run(project, executor, {.base_dir = folder});
//   nl::run::RunResult r = run->trainer->fit(*run->train_loader, run->val_loader.get(), &sink);
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataloader.h"
#include "engine/project/project.h"
#include "engine/run/graph_executor.h"
#include "engine/run/trainer.h"
#include "engine/run/training_setup.h"

namespace nl::run {

struct TrainingRunOptions {
  std::string base_dir;            // relative dataset paths start here (the project's folder)
  Device device = Device::cpu();
  bool continue_from_weights = true;  // start from the project's weights when it has any
  std::string checkpoint_dir;      // overrides the settings' checkpoint_dir when not empty
  int64_t layer_statistics_every = 0;  // see TrainerOptions
  int64_t validation_samples = 0;
};

struct TrainingRun {
  PreparedData data;
  std::shared_ptr<GraphModel> model;
  bool continued_from_weights = false;
  std::vector<std::string> untrained;  // model tensors the project's weights did not have
  std::unique_ptr<data::DataLoader> train_loader, val_loader;  // val_loader null without validation
  std::shared_ptr<optim::Optimizer> optimizer;
  std::shared_ptr<optim::LRScheduler> scheduler;
  std::unique_ptr<Trainer> trainer;
};

// Seeds the default generator with the settings' seed, loads the dataset, checks that it
// fits the model's Input, builds the model and wires the trainer. Throws nl::Error naming
// the setting or node at fault.
std::unique_ptr<TrainingRun> prepare_training_run(const project::Project& project, GraphExecutor& executor,
                                                  const TrainingRunOptions& options);

// A settings device ("cpu", "cuda", "cuda:N"); throws nl::Error naming training.device when
// it is not a device or no backend serves it (no CUDA device, or a build without CUDA).
Device device_from_setting(const std::string& text);

// The devices a run can use now: cpu, then cuda:N for each CUDA device a backend serves.
std::vector<std::string> available_devices();

// The loss when the graph has no Loss node: the registry's Loss layer of that kind.
LossFn loss_named(const std::string& kind);

// Throws when the model's Input does not accept the dataset's samples, saying both shapes.
void check_input_matches(const project::Project& project, const PreparedData& data);

}  // namespace nl::run
