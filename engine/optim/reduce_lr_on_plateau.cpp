// ReduceLROnPlateau: PyTorch 1.13's bookkeeping of best value, bad steps and cooldown.
#include "engine/optim/reduce_lr_on_plateau.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/error.h"

namespace nl::optim {
namespace {

void check_count(const StateDict& s, const char* key, double v) {
  NL_CHECK(v >= 0 && v == std::floor(v) && v <= 9007199254740992.0, "ReduceLROnPlateau: state_dict entry '", key,
           "' must be a whole number >= 0, got ", v);
}

}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), options_(options) {
  NL_CHECK(options.factor >= 0 && options.factor < 1, "ReduceLROnPlateau: factor must be in [0, 1), got ",
           options.factor);
  NL_CHECK(options.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got ", options.patience);
  NL_CHECK(options.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got ", options.cooldown);
  NL_CHECK(std::isfinite(options.threshold) && options.threshold >= 0,
           "ReduceLROnPlateau: threshold must be a finite number >= 0, got ", options.threshold);
  NL_CHECK(std::isfinite(options.min_lr) && options.min_lr >= 0,
           "ReduceLROnPlateau: min_lr must be a finite number >= 0, got ", options.min_lr);
  NL_CHECK(std::isfinite(options.eps) && options.eps >= 0, "ReduceLROnPlateau: eps must be a finite number >= 0, got ",
           options.eps);
  // The worst possible value, so the first metric always counts as an improvement.
  best_ = options.mode == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                           : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a) const {
  const double t = options_.threshold;
  const bool rel = options_.threshold_mode == ThresholdMode::Rel;
  if (options_.mode == PlateauMode::Min) return rel ? a < best_ * (1. - t) : a < best_ - t;
  return rel ? a > best_ * (t + 1.) : a > best_ + t;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_step_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_steps_ = 0;
  } else {
    ++num_bad_steps_;
  }
  if (in_cooldown()) {
    --cooldown_counter_;
    num_bad_steps_ = 0;  // bad steps during cooldown do not count
  }
  if (num_bad_steps_ > options_.patience) {
    for (size_t g = 0; g < optimizer_.param_groups().size(); ++g) {
      const double old_lr = optimizer_.lr(g);
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) optimizer_.set_lr(g, new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_steps_ = 0;
  }
}

StateDict ReduceLROnPlateau::state_dict() const {
  StateDict s;
  s.scalars["last_step"] = (double)last_step_;
  s.scalars["best"] = best_;
  s.scalars["num_bad_steps"] = (double)num_bad_steps_;
  s.scalars["cooldown_counter"] = (double)cooldown_counter_;
  return s;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& s) {
  const char* owner = "ReduceLROnPlateau";
  double last = s.scalar("last_step", owner), bad = s.scalar("num_bad_steps", owner);
  double cooldown = s.scalar("cooldown_counter", owner), best = s.scalar("best", owner);
  check_count(s, "last_step", last);
  check_count(s, "num_bad_steps", bad);
  check_count(s, "cooldown_counter", cooldown);
  NL_CHECK(!std::isnan(best), "ReduceLROnPlateau: state_dict entry 'best' is NaN");
  last_step_ = (int64_t)last;
  num_bad_steps_ = (int64_t)bad;
  cooldown_counter_ = (int64_t)cooldown;
  best_ = best;
}

}  // namespace nl::optim
