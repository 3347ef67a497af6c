// A training sink that writes a TensorBoard event file ("events.out.tfevents.<time>.<host>")
// into a folder as the run goes: per-step loss, accuracy, learning rate and throughput,
// per-epoch train/validation metrics, and per-layer gradient norms with weight and gradient
// histograms. `tensorboard --logdir FOLDER` shows the run. Flushed after every epoch and at
// the end, so a stopped run leaves a readable file.
#pragma once
#include <cstdio>
#include <string>

#include "engine/run/training_events.h"

namespace nl::tensorboard {

class EventWriter : public run::TrainingSink {
 public:
  // Creates the file in `folder` (which must exist); throws nl::Error naming it on failure.
  explicit EventWriter(const std::string& folder);
  ~EventWriter() override;
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  const std::string& path() const { return path_; }

  void add_scalar(const std::string& tag, double value, int64_t step);
  void add_histogram(const std::string& tag, const run::Histogram& h, int64_t step);
  void flush();

  void on_step(const run::StepMetrics& m) override;
  void on_epoch(const run::EpochMetrics& m) override;
  void on_layer_statistics(const run::LayerStatisticsEvent& e) override;
  void on_finished(const run::RunResult&) override;

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
  int64_t last_step_ = 0;
};

}  // namespace nl::tensorboard
