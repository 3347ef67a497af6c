// Training-problem hints (see training_hints.h).
#include "engine/run/training_hints.h"

#include <cmath>
#include <cstdio>

namespace nl::run {

namespace {
std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}
}  // namespace

void TrainingHints::add_step(const StepMetrics& m) {
  if (!non_finite_ && !std::isfinite(m.loss)) {
    non_finite_ = true;
    non_finite_step_ = m.global_step;
  }
}

void TrainingHints::add_epoch(const EpochMetrics& m) {
  epochs_.push_back(m);
  if (!non_finite_ && (!std::isfinite(m.train_loss) || (m.has_validation && !std::isfinite(m.val_loss)))) {
    non_finite_ = true;
    non_finite_step_ = 0;
  }
}

void TrainingHints::add_layer_statistics(const LayerStatisticsEvent& e) {
  last_total_norm_ = e.total_gradient_norm;
  last_norm_step_ = e.global_step;
  vanishing_layers_.clear();
  for (const LayerStatistics& l : e.layers)
    if (l.weight_norm > 0 && l.gradient_norm < options_.vanishing_norm) vanishing_layers_.push_back(l.name);
}

void TrainingHints::add_result(const RunResult& r) {
  if (r.status == RunStatus::Failed && r.message.find("loss became") != std::string::npos) non_finite_ = true;
}

std::vector<Hint> TrainingHints::current() const {
  std::vector<Hint> out;
  if (non_finite_)
    out.push_back({Hint::Kind::NonFiniteLoss,
                   "The loss became NaN or infinite" +
                       (non_finite_step_ > 0 ? format(" at step %.0f", double(non_finite_step_)) : std::string()) +
                       ": lower the learning rate, clip gradients, or check the data for NaN values."});

  // Plateau: no new best training loss in the last plateau_epochs epochs.
  const size_t n = epochs_.size();
  if (options_.plateau_epochs > 0 && n > size_t(options_.plateau_epochs)) {
    double best_before = INFINITY;
    for (size_t i = 0; i + options_.plateau_epochs < n; ++i) best_before = std::min(best_before, epochs_[i].train_loss);
    double best_recent = INFINITY;
    for (size_t i = n - options_.plateau_epochs; i < n; ++i) best_recent = std::min(best_recent, epochs_[i].train_loss);
    if (std::isfinite(best_before) && best_recent > best_before - options_.plateau_min_delta * std::abs(best_before))
      out.push_back({Hint::Kind::Plateau,
                     format("The training loss has not improved for %.0f epochs (best %.4g): try a different "
                            "learning rate or schedule, or a larger model.",
                            double(options_.plateau_epochs), best_before)});
  }

  if (last_total_norm_ > options_.exploding_norm || std::isinf(last_total_norm_))
    out.push_back({Hint::Kind::ExplodingGradients,
                   format("Gradients are exploding (total norm %.3g at step %.0f): lower the learning rate or set "
                          "gradient clipping.",
                          last_total_norm_, double(last_norm_step_))});
  if (!vanishing_layers_.empty()) {
    std::string names;
    for (size_t i = 0; i < vanishing_layers_.size() && i < 4; ++i) names += (i ? ", " : "") + vanishing_layers_[i];
    if (vanishing_layers_.size() > 4) names += ", …";
    out.push_back({Hint::Kind::VanishingGradients,
                   "Gradients are vanishing in " + names +
                       ": these layers barely learn; try ReLU-like activations, normalisation or residual links."});
  }

  // Overfitting: the last overfit_epochs epochs all show a train/val accuracy gap above the
  // threshold and a validation loss above its best.
  if (options_.overfit_epochs > 0 && n >= size_t(options_.overfit_epochs) && epochs_.back().has_validation) {
    double best_val = INFINITY;
    for (const EpochMetrics& e : epochs_) best_val = std::min(best_val, e.val_loss);
    bool all = true;
    for (size_t i = n - options_.overfit_epochs; i < n && all; ++i) {
      const EpochMetrics& e = epochs_[i];
      all = e.has_validation && e.train_accuracy - e.val_accuracy > options_.overfit_gap && e.val_loss > best_val;
    }
    if (all)
      out.push_back({Hint::Kind::Overfitting,
                     format("Validation accuracy trails training accuracy by %.0f points and validation loss is "
                            "rising: the model is overfitting; add dropout or weight decay, more data, or stop "
                            "earlier.",
                            100 * (epochs_.back().train_accuracy - epochs_.back().val_accuracy))});
  }
  return out;
}

}  // namespace nl::run
