// Learning-rate schedules that set an optimiser's group lrs as training advances, with the
// step semantics of torch.optim.lr_scheduler (PyTorch 1.13): constructing a scheduler sets
// the lrs for step 0, and each step() moves to the next step and sets them again.
//
//   nl::optim::SGD opt(params, {.lr = 0.1, .momentum = 0.9});
//   nl::optim::CosineAnnealingLR sched(opt, {.total_steps = 10000, .warmup_steps = 500});
//   for (...) { ...; opt.step(); sched.step(); }
//
// Note [Closed-form schedules]: every schedule here is a function of the step number and
// the lrs the groups had when the scheduler was made (base_lrs); PyTorch's chainable forms
// compute the same values recursively. Closed forms make resuming exact (state is just the
// step number) and keep rounding from accumulating; the price is that a scheduler overwrites
// lrs set by hand, and two schedulers on one optimiser do not compose (the last one wins).
// ReduceLROnPlateau, which reacts to a metric, lives in reduce_lr_on_plateau.h.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/optim/optimizer.h"
#include "engine/optim/state_dict.h"

namespace nl::optim {

// Holds a reference to its optimiser, which must outlive it.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  const char* name() const { return name_; }
  // Advances to the next step and sets every group's lr (and momentum, for OneCycleLR).
  void step();
  // Called by the trainer after each epoch with the validation loss (the training loss when
  // there is no validation set). Step-based schedules ignore it; a plateau schedule reacts.
  virtual void epoch_end(double monitored_loss) {}
  // Steps taken since construction (PyTorch's last_epoch): 0 right after construction.
  int64_t last_step() const { return last_step_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // The lr of `group` at step `step`, without changing anything.
  virtual double lr_at(size_t group, int64_t step) const = 0;

  // "last_step" and "base_lrs.<group>". Loading does not touch the optimiser: its lrs come
  // back with the optimiser's own state_dict.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 protected:
  LRScheduler(Optimizer& optimizer, const char* name);
  // Sets the lrs of step 0 (PyTorch's constructor step); derived constructors end with it,
  // once their options are in place.
  void start();
  // Applies step `step` to the optimiser; OneCycleLR also sets momentum.
  virtual void apply(int64_t step);
  // base_lrs()[group], or an nl::Error naming the scheduler when there is no such group.
  double base_lr(size_t group) const;

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;

 private:
  void check_group_count() const;

  const char* name_;
  int64_t last_step_ = -1;
};

// lr = base · gamma^⌊step / step_size⌋
struct StepLROptions {
  int64_t step_size = 1;
  double gamma = 0.1;
};
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, const StepLROptions& options);
  double lr_at(size_t group, int64_t step) const override;

 private:
  StepLROptions options_;
};

// lr = base · gamma^(number of milestones <= step); a milestone listed twice counts twice.
struct MultiStepLROptions {
  std::vector<int64_t> milestones;
  double gamma = 0.1;
};
class MultiStepLR final : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options);
  double lr_at(size_t group, int64_t step) const override;

 private:
  MultiStepLROptions options_;  // milestones sorted
};

// lr = base · gamma^step
struct ExponentialLROptions {
  double gamma = 0.99;
};
class ExponentialLR final : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options);
  double lr_at(size_t group, int64_t step) const override;

 private:
  ExponentialLROptions options_;
};

// Linear warm-up then cosine decay:
//   step < warmup_steps:  lr = base · (s + (1 − s) · step / warmup_steps), s = warmup_start_factor
//   up to total_steps:    lr = eta_min + (base − eta_min) · (1 + cos(π · (step − warmup) / (total − warmup))) / 2
//   after total_steps:    lr = eta_min
// Without warm-up this is torch's CosineAnnealingLR(T_max = total_steps) up to total_steps
// (PyTorch's then rises again; here it stays at eta_min). With warm-up it is torch's
// SequentialLR([LinearLR(start_factor = s, total_iters = warmup), CosineAnnealingLR(T_max =
// total − warmup)], milestones = [warmup]), except that s may be 0 here.
struct CosineAnnealingLROptions {
  int64_t total_steps = 0;  // required
  int64_t warmup_steps = 0;
  double warmup_start_factor = 0;
  double eta_min = 0;
};
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options);
  double lr_at(size_t group, int64_t step) const override;

 private:
  CosineAnnealingLROptions options_;
};

// The 1cycle policy (torch.optim.lr_scheduler.OneCycleLR): lr rises from max_lr / div_factor
// to max_lr over the first pct_start of total_steps, then falls to
// max_lr / div_factor / final_div_factor; momentum (beta1 for Adam) moves the opposite way
// between max_momentum and base_momentum when cycle_momentum is on. Step total_steps,
// which the scheduler reaches after the last optimiser step, keeps the final lr and
// momentum (PyTorch extrapolates past them, to a negative lr with linear annealing);
// stepping further is an error, as in PyTorch.
enum class AnnealStrategy { Cos, Linear };
struct OneCycleLROptions {
  std::vector<double> max_lr;  // one value for every group, or one per group; required
  int64_t total_steps = 0;     // required
  double pct_start = 0.3;
  AnnealStrategy anneal_strategy = AnnealStrategy::Cos;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool three_phase = false;  // warm-up, symmetric cool-down to the initial lr, then annihilation
};
class OneCycleLR final : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  double lr_at(size_t group, int64_t step) const override;
  double momentum_at(int64_t step) const;

 private:
  struct Phase {
    double end_step;
    int start_lr, end_lr;  // indices into {initial, max, min}
    double start_momentum, end_momentum;
  };
  void apply(int64_t step) override;
  // Value of the schedule between `start` and `end` for `step` in the phase containing it.
  double anneal(double start, double end, double pct) const;
  const Phase& phase_of(int64_t step, double* pct) const;

  OneCycleLROptions options_;
  std::vector<double> max_lrs_;
  std::vector<Phase> phases_;
};

}  // namespace nl::optim
