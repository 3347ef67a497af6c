// The LR scheduler base (stepping, state) and the closed-form schedules.
#include "engine/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/core/error.h"

namespace nl::optim {

// ---- LRScheduler --------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name) : optimizer_(optimizer), name_(name) {
  for (const ParamGroup& g : optimizer.param_groups()) base_lrs_.push_back(g.lr);
}

void LRScheduler::check_group_count() const {
  NL_CHECK(optimizer_.param_groups().size() == base_lrs_.size(), name_, ": the optimiser has ",
           optimizer_.param_groups().size(), " param groups but the scheduler was made for ", base_lrs_.size());
}

void LRScheduler::start() {
  check_group_count();
  apply(0);
  last_step_ = 0;
}

void LRScheduler::step() {
  check_group_count();
  apply(last_step_ + 1);
  ++last_step_;
}

double LRScheduler::base_lr(size_t group) const {
  NL_CHECK(group < base_lrs_.size(), name_, ": param group ", group, " does not exist (", base_lrs_.size(),
           " groups)");
  return base_lrs_[group];
}

void LRScheduler::apply(int64_t step) {
  for (size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(g, lr_at(g, step));
}

StateDict LRScheduler::state_dict() const {
  StateDict s;
  s.scalars["last_step"] = (double)last_step_;
  for (size_t g = 0; g < base_lrs_.size(); ++g) s.scalars["base_lrs." + std::to_string(g)] = base_lrs_[g];
  return s;
}

void LRScheduler::load_state_dict(const StateDict& s) {
  double last = s.scalar("last_step", name_);
  NL_CHECK(last >= 0 && last == std::floor(last) && last <= 9007199254740992.0, name_,
           ": state_dict entry 'last_step' must be a whole number >= 0, got ", last);
  std::vector<double> base(base_lrs_.size());
  for (size_t g = 0; g < base.size(); ++g) {
    base[g] = s.scalar("base_lrs." + std::to_string(g), name_);
    NL_CHECK(std::isfinite(base[g]) && base[g] >= 0, name_, ": state_dict entry 'base_lrs.", g,
             "' must be a finite number >= 0, got ", base[g]);
  }
  NL_CHECK(!s.scalars.count("base_lrs." + std::to_string(base.size())), name_,
           ": state_dict has more base_lrs than the optimiser has param groups (", base.size(), ")");
  base_lrs_ = std::move(base);
  last_step_ = (int64_t)last;
}

// ---- StepLR, MultiStepLR, ExponentialLR ---------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options)
    : LRScheduler(optimizer, "StepLR"), options_(options) {
  NL_CHECK(options.step_size >= 1, "StepLR: step_size must be >= 1, got ", options.step_size);
  NL_CHECK(std::isfinite(options.gamma) && options.gamma >= 0, "StepLR: gamma must be a finite number >= 0, got ",
           options.gamma);
  start();
}

double StepLR::lr_at(size_t group, int64_t step) const {
  return base_lr(group) * std::pow(options_.gamma, (double)(step / options_.step_size));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options)
    : LRScheduler(optimizer, "MultiStepLR"), options_(options) {
  for (int64_t m : options.milestones) NL_CHECK(m >= 0, "MultiStepLR: milestones must be >= 0, got ", m);
  NL_CHECK(std::isfinite(options.gamma) && options.gamma >= 0,
           "MultiStepLR: gamma must be a finite number >= 0, got ", options.gamma);
  std::sort(options_.milestones.begin(), options_.milestones.end());
  start();
}

double MultiStepLR::lr_at(size_t group, int64_t step) const {
  const auto& m = options_.milestones;
  auto passed = std::upper_bound(m.begin(), m.end(), step) - m.begin();
  return base_lr(group) * std::pow(options_.gamma, (double)passed);
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options)
    : LRScheduler(optimizer, "ExponentialLR"), options_(options) {
  NL_CHECK(std::isfinite(options.gamma) && options.gamma >= 0,
           "ExponentialLR: gamma must be a finite number >= 0, got ", options.gamma);
  start();
}

double ExponentialLR::lr_at(size_t group, int64_t step) const {
  return base_lr(group) * std::pow(options_.gamma, (double)step);
}

// ---- CosineAnnealingLR --------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options)
    : LRScheduler(optimizer, "CosineAnnealingLR"), options_(options) {
  NL_CHECK(options.warmup_steps >= 0, "CosineAnnealingLR: warmup_steps must be >= 0, got ", options.warmup_steps);
  NL_CHECK(options.total_steps > options.warmup_steps, "CosineAnnealingLR: total_steps (", options.total_steps,
           ") must be greater than warmup_steps (", options.warmup_steps, ")");
  NL_CHECK(options.warmup_start_factor >= 0 && options.warmup_start_factor <= 1,
           "CosineAnnealingLR: warmup_start_factor must be in [0, 1], got ", options.warmup_start_factor);
  NL_CHECK(std::isfinite(options.eta_min) && options.eta_min >= 0,
           "CosineAnnealingLR: eta_min must be a finite number >= 0, got ", options.eta_min);
  start();
}

double CosineAnnealingLR::lr_at(size_t group, int64_t step) const {
  const double base = base_lr(group), eta_min = options_.eta_min;
  const int64_t warmup = options_.warmup_steps;
  if (step < warmup) {
    const double s = options_.warmup_start_factor;
    return base * (s + (1 - s) * (double)step / (double)warmup);
  }
  if (step >= options_.total_steps) return eta_min;
  const double progress = (double)(step - warmup) / (double)(options_.total_steps - warmup);
  return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * progress)) / 2;
}

// ---- OneCycleLR ---------------------------------------------------------------------------

namespace {
enum { kInitialLr = 0, kMaxLr = 1, kMinLr = 2 };
}

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler(optimizer, "OneCycleLR"), options_(options) {
  const size_t groups = optimizer.param_groups().size();
  NL_CHECK(options.max_lr.size() == 1 || options.max_lr.size() == groups, "OneCycleLR: max_lr needs 1 value or one "
           "per param group (", groups, "), got ", options.max_lr.size());
  for (double m : options.max_lr)
    NL_CHECK(std::isfinite(m) && m >= 0, "OneCycleLR: max_lr must be a finite number >= 0, got ", m);
  NL_CHECK(options.total_steps >= 1, "OneCycleLR: total_steps must be >= 1, got ", options.total_steps);
  NL_CHECK(options.pct_start >= 0 && options.pct_start <= 1, "OneCycleLR: pct_start must be in [0, 1], got ",
           options.pct_start);
  NL_CHECK(std::isfinite(options.div_factor) && options.div_factor > 0,
           "OneCycleLR: div_factor must be a finite number > 0, got ", options.div_factor);
  NL_CHECK(std::isfinite(options.final_div_factor) && options.final_div_factor > 0,
           "OneCycleLR: final_div_factor must be a finite number > 0, got ", options.final_div_factor);
  if (options.cycle_momentum) {
    NL_CHECK(options.base_momentum >= 0 && options.base_momentum < 1,
             "OneCycleLR: base_momentum must be in [0, 1), got ", options.base_momentum);
    NL_CHECK(options.max_momentum >= 0 && options.max_momentum < 1,
             "OneCycleLR: max_momentum must be in [0, 1), got ", options.max_momentum);
  }

  const double total = (double)options.total_steps, pct = options.pct_start;
  const double lo = options.base_momentum, hi = options.max_momentum;
  if (options.three_phase) {
    phases_ = {{pct * total - 1, kInitialLr, kMaxLr, hi, lo},
               {2 * pct * total - 2, kMaxLr, kInitialLr, lo, hi},
               {total - 1, kInitialLr, kMinLr, hi, hi}};
  } else {
    phases_ = {{pct * total - 1, kInitialLr, kMaxLr, hi, lo}, {total - 1, kMaxLr, kMinLr, lo, hi}};
  }
  // A phase that starts where it ends would divide by zero (PyTorch raises ZeroDivisionError).
  double phase_start = 0;
  for (const Phase& p : phases_) {
    NL_CHECK(p.end_step != phase_start, "OneCycleLR: pct_start ", pct, " with total_steps ", options.total_steps,
             " gives a phase of zero length; change either");
    phase_start = p.end_step;
  }

  max_lrs_.resize(groups);
  for (size_t g = 0; g < groups; ++g) {
    max_lrs_[g] = options.max_lr.size() == 1 ? options.max_lr[0] : options.max_lr[g];
    base_lrs_[g] = max_lrs_[g] / options.div_factor;
  }
  start();
}

const OneCycleLR::Phase& OneCycleLR::phase_of(int64_t step, double* pct) const {
  double start = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& p = phases_[i];
    if ((double)step <= p.end_step || i + 1 == phases_.size()) {
      // Only step total_steps (the scheduler step after the last optimiser step) lands past
      // the end; it keeps the final values rather than extrapolating as PyTorch does.
      *pct = std::min(1.0, ((double)step - start) / (p.end_step - start));
      return p;
    }
    start = p.end_step;
  }
  fail("OneCycleLR: no phases");  // unreachable: the constructor makes two or three
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy == AnnealStrategy::Linear) return (end - start) * pct + start;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

double OneCycleLR::lr_at(size_t group, int64_t step) const {
  NL_CHECK(step <= options_.total_steps, "OneCycleLR: tried to step ", step + 1, " times but total_steps is ",
           options_.total_steps);
  const double initial = base_lr(group);
  const double lrs[3] = {initial, max_lrs_[group], initial / options_.final_div_factor};
  double pct;
  const Phase& p = phase_of(step, &pct);
  return anneal(lrs[p.start_lr], lrs[p.end_lr], pct);
}

double OneCycleLR::momentum_at(int64_t step) const {
  double pct;
  const Phase& p = phase_of(step, &pct);
  return anneal(p.start_momentum, p.end_momentum, pct);
}

void OneCycleLR::apply(int64_t step) {
  // Compute every value first, so a step past total_steps changes nothing.
  std::vector<double> lrs(base_lrs_.size());
  for (size_t g = 0; g < lrs.size(); ++g) lrs[g] = lr_at(g, step);
  for (size_t g = 0; g < lrs.size(); ++g) {
    optimizer_.set_lr(g, lrs[g]);
    if (options_.cycle_momentum) optimizer_.set_cycled_momentum(g, momentum_at(step));
  }
}

}  // namespace nl::optim
