// Simple training-problem hints from a run's metrics: a non-finite loss, a loss that stopped
// going down, exploding or vanishing gradients, and validation accuracy falling behind
// training accuracy (overfitting). Plain data in, sentences out; the dashboard shows them.
//
//   nl::run::TrainingHints hints;
//   hints.add_epoch(m); hints.add_layer_statistics(e);
//   for (auto& h : hints.current()) show(h.text);
#pragma once
#include <string>
#include <vector>

#include "engine/run/training_events.h"

namespace nl::run {

struct HintOptions {
  int64_t plateau_epochs = 5;          // epochs without a new best training loss
  double plateau_min_delta = 1e-4;     // relative improvement that counts
  double exploding_norm = 1e3;         // total gradient norm above this
  double vanishing_norm = 1e-7;        // a layer's gradient norm below this (with weights > 0)
  double overfit_gap = 0.10;           // train accuracy − val accuracy, for ...
  int64_t overfit_epochs = 3;          // ... this many epochs in a row while val loss rises
};

struct Hint {
  enum class Kind { NonFiniteLoss, Plateau, ExplodingGradients, VanishingGradients, Overfitting };
  Kind kind;
  std::string text;
};

class TrainingHints {
 public:
  explicit TrainingHints(HintOptions options = {}) : options_(options) {}
  void add_step(const StepMetrics& m);
  void add_epoch(const EpochMetrics& m);
  void add_layer_statistics(const LayerStatisticsEvent& e);
  void add_result(const RunResult& r);
  // The hints that hold now, one per kind, in the order of Kind.
  std::vector<Hint> current() const;

 private:
  HintOptions options_;
  bool non_finite_ = false;
  int64_t non_finite_step_ = 0;
  std::vector<EpochMetrics> epochs_;
  double last_total_norm_ = 0;
  int64_t last_norm_step_ = 0;
  std::vector<std::string> vanishing_layers_;
};

}  // namespace nl::run
