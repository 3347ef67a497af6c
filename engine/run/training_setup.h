// Factories from a project's training settings to the engine objects a run needs: the
// train/validation datasets, the optimiser and the learning-rate scheduler. The GUI, the
// command line and the tests all build runs through these.
//
//   auto data = nl::run::load_dataset(settings.dataset, project_dir, settings.seed);
//   auto opt = nl::run::make_optimizer(settings.optimizer, model->parameters());
//   auto steps = (data.train->size() + settings.batch_size - 1) / settings.batch_size;
//   auto sched = nl::run::make_scheduler(settings.schedule, *opt, steps, settings.epochs);  // null for "none"
//   // the trainer calls sched->epoch_end(val_loss) after each epoch (a plateau schedule reacts)
//
// Errors are nl::Error naming the settings field: "training.dataset.kind: unknown dataset
// 'mnsit' (known: spirals, …)", "training.dataset.path: …/mnist: no train-images-idx3-ubyte[.gz]".
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/optim/lr_scheduler.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/reduce_lr_on_plateau.h"
#include "engine/project/training_settings.h"

namespace nl::run {

struct PreparedData {
  std::shared_ptr<data::Dataset> train, validation;  // validation null when validation_split is 0
  int64_t num_classes = 0;                           // 0 for regression
  std::vector<int64_t> sample_shape;                 // one input, without the batch dimension
  DType sample_dtype = DType::Float32;
  std::vector<std::string> class_names;
};

// Loads or generates the dataset, splits off the validation part (by `seed`) and, when the
// settings ask for it, standardises inputs with the training part's statistics. Relative
// paths are taken from `base_dir` (the project file's folder).
PreparedData load_dataset(const project::DatasetSettings& s, const std::string& base_dir, uint64_t seed);

std::shared_ptr<optim::Optimizer> make_optimizer(const project::OptimizerSettings& s, std::vector<Tensor> params);

// Epoch-based settings become step-based schedulers, because the trainer steps the scheduler
// after every optimiser step: "step" decays every step_size × steps_per_epoch steps,
// "exponential" by gamma once per epoch (torch's ExponentialLR stepped per epoch), "cosine"
// over epochs × steps_per_epoch with warmup_epochs × steps_per_epoch of linear warm-up,
// "onecycle" over the whole run. "plateau" returns a PlateauSchedule. Null for "none".
std::shared_ptr<optim::LRScheduler> make_scheduler(const project::ScheduleSettings& s, optim::Optimizer& opt,
                                                   int64_t steps_per_epoch, int64_t epochs);

// ReduceLROnPlateau reacts to a metric, not to steps, so it does not fit LRScheduler's
// closed-form mould; this adapter lets it ride in the trainer's scheduler slot. step() (after
// every optimiser step) leaves the lr alone; epoch_end() (the trainer calls it after each
// epoch) takes the epoch's validation loss and may lower the lr. Its checkpointed state is LRScheduler's (step count, base lrs); the
// plateau counters restart on resume.
class PlateauSchedule final : public optim::LRScheduler {
 public:
  PlateauSchedule(optim::Optimizer& optimizer, const optim::ReduceLROnPlateauOptions& options);
  void record(double validation_loss) { plateau_.step(validation_loss); }
  void epoch_end(double monitored_loss) override { record(monitored_loss); }
  double lr_at(size_t group, int64_t step) const override;
  const optim::ReduceLROnPlateau& plateau() const { return plateau_; }

 private:
  void apply(int64_t step) override {}
  optim::ReduceLROnPlateau plateau_;
};

}  // namespace nl::run
