// Plain-data events the trainer publishes while it runs, and the sink interface that
// receives them (the dashboard, the command line's progress bar, tests). No Qt here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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
  // The training device's allocator (engine/backends: DeviceMemoryStats) when it is a GPU;
  // zeros on the CPU.
  double device_memory_allocated = 0;  // bytes held by tensors
  double device_memory_reserved = 0;   // bytes obtained from the driver (tensors + cache)
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

// A histogram of a tensor's values in equal-width buckets over [min, max]; the fields are
// those TensorBoard's HistogramProto keeps, so a writer copies them over unchanged.
struct Histogram {
  double min = 0, max = 0, count = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limits;  // right edge of each bucket
  std::vector<double> buckets;        // values in each bucket
};

// One layer (a top-level child module of the model: a graph node) after a backward pass.
struct LayerStatistics {
  std::string name;  // the module name ("fc1"; a node name with '.' replaced by '_')
  double weight_norm = 0;    // L2 norm of all its parameters
  double gradient_norm = 0;  // L2 norm of all their gradients
  Histogram weights, gradients;
};

struct LayerStatisticsEvent {
  int64_t global_step = 0;
  double total_gradient_norm = 0;  // over the whole model, before clipping
  std::vector<LayerStatistics> layers;
};

// What the validation pass saw at the end of an epoch (classification only).
struct ValidationReport {
  struct Sample {
    std::vector<int64_t> shape;  // one input without the batch dimension
    std::vector<float> values;   // row-major
    int64_t label = 0, predicted = 0;
  };
  int64_t epoch = 0;
  int64_t num_classes = 0;
  std::vector<int64_t> confusion;  // num_classes × num_classes, row: true class, column: predicted
  std::vector<Sample> samples;     // the first validation samples, as the loader yields them
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
  // Every TrainerOptions::layer_statistics_every steps (0: never).
  virtual void on_layer_statistics(const LayerStatisticsEvent&) {}
  // After each epoch's validation pass, for classification.
  virtual void on_validation(const ValidationReport&) {}
  virtual void on_message(const std::string&) {}
  virtual void on_finished(const RunResult&) {}
};

}  // namespace nl::run
