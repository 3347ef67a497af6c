// ReduceLROnPlateau (torch.optim.lr_scheduler.ReduceLROnPlateau, PyTorch 1.13): multiplies
// every group's lr by `factor` when a monitored metric has not improved for more than
// `patience` steps, then waits `cooldown` steps before counting again.
//
//   nl::optim::ReduceLROnPlateau plateau(opt, {.factor = 0.5, .patience = 3});
//   for (int epoch = 0; ...; ++epoch) { train(); plateau.step(validation_loss()); }
//
// Improvement means metric < best · (1 − threshold) in Min mode with relative thresholds
// (metric > best · (1 + threshold) in Max mode; best ∓ threshold with absolute ones). An lr
// never drops below min_lr, and a reduction smaller than eps is skipped.
#pragma once
#include <cstdint>

#include "engine/optim/optimizer.h"
#include "engine/optim/state_dict.h"

namespace nl::optim {

enum class PlateauMode { Min, Max };
enum class ThresholdMode { Rel, Abs };

struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::Min;
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  int64_t cooldown = 0;
  double min_lr = 0;
  double eps = 1e-8;
};

// Holds a reference to its optimiser, which must outlive it.
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});

  // Records one value of the metric; may lower the lrs. A NaN metric counts as no improvement.
  void step(double metric);

  int64_t last_step() const { return last_step_; }
  double best() const { return best_; }
  int64_t num_bad_steps() const { return num_bad_steps_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

  // "last_step", "best", "num_bad_steps", "cooldown_counter". The lrs themselves are in the
  // optimiser's state_dict.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  bool is_better(double metric) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  int64_t last_step_ = 0;
  double best_;
  int64_t num_bad_steps_ = 0;
  int64_t cooldown_counter_ = 0;
};

}  // namespace nl::optim
