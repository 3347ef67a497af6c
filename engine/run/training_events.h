// Plain-data events the trainer publishes while it runs, and the sink interface that
// receives them (the dashboard, the command line's progress bar, tests). No Qt here.
#pragma once
#include <cstdint>
#include <string>

namespace nl::run {

struct StepMetrics {
  int64_t epoch = 0;            // 0-based
  int64_t batch = 0;            // 0-based batch within the epoch
  int64_t batches_per_epoch = 0;
  int64_t global_step = 0;      // optimiser steps taken so far, this one included
  double loss = 0;
  double accuracy = 0;          // fraction of the batch classified correctly (classification only)
  double learning_rate = 0;
  double samples_per_second = 0;
};

struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0;
  double train_accuracy = 0;
  bool has_validation = false;
  double val_loss = 0;
  double val_accuracy = 0;
  double val_top_k_accuracy = 0;  // top-k with the trainer's k
  double seconds = 0;
};

enum class RunStatus { Completed, Stopped, EarlyStopped, Failed };
const char* run_status_name(RunStatus s);

struct RunResult {
  RunStatus status = RunStatus::Completed;
  std::string message;       // why it stopped or failed, for people
  int64_t epochs_completed = 0;
  int64_t global_step = 0;
  EpochMetrics last_epoch;   // metrics of the last completed epoch
};

// Receives events on the trainer's thread; implementations that feed a UI must hand them
// over to their own thread (the app coalesces them at a bounded rate).
class TrainingSink {
 public:
  virtual ~TrainingSink() = default;
  virtual void on_step(const StepMetrics&) {}
  virtual void on_epoch(const EpochMetrics&) {}
  virtual void on_message(const std::string&) {}
  virtual void on_finished(const RunResult&) {}
};

}  // namespace nl::run
