// The command line's view of a training run: on a terminal, a progress bar redrawn in place
// (epoch, batch, loss, accuracy, samples/s, time left); otherwise plain lines, one per epoch
// and one every few seconds, so logs and CI output stay readable.
#pragma once
#include <chrono>
#include <cstdio>

#include "engine/run/training_events.h"

namespace nl::app {

class ProgressPrinter : public run::TrainingSink {
 public:
  ProgressPrinter(std::FILE* out, bool terminal, int64_t epochs);
  void on_step(const run::StepMetrics& m) override;
  void on_epoch(const run::EpochMetrics& m) override;
  void on_message(const std::string& m) override;
  void on_finished(const run::RunResult& r) override;

 private:
  void clear_bar();
  double seconds_since_start() const;

  std::FILE* out_;
  bool terminal_;
  int64_t epochs_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  double smoothed_loss_ = 0;
  int64_t steps_seen_ = 0;
};

// True when `f` is an interactive terminal (isatty).
bool is_terminal(std::FILE* f);

}  // namespace nl::app
