// A training sink that writes every step and epoch to a CSV file as the run goes, flushed
// after each epoch, so a run stopped at any point leaves its metrics readable.
//
// Columns: kind,epoch,step,batch,loss,accuracy,learning_rate,samples_per_second,
//          val_loss,val_accuracy,val_top_k_accuracy,seconds
// ("step" rows fill the step columns; "epoch" rows the epoch columns; the rest stay empty).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "engine/run/training_events.h"

namespace nl::run {

class MetricsCsvWriter : public TrainingSink {
 public:
  // Throws nl::Error naming the path when it cannot be created.
  explicit MetricsCsvWriter(const std::string& path);
  ~MetricsCsvWriter() override;
  MetricsCsvWriter(const MetricsCsvWriter&) = delete;
  MetricsCsvWriter& operator=(const MetricsCsvWriter&) = delete;

  void on_step(const StepMetrics& m) override;
  void on_epoch(const EpochMetrics& m) override;
  void on_finished(const RunResult&) override;

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

// Forwards every event to several sinks (progress bar + CSV file + …).
class SinkFanout : public TrainingSink {
 public:
  void add(TrainingSink* sink) { sinks_.push_back(sink); }
  void on_step(const StepMetrics& m) override;
  void on_epoch(const EpochMetrics& m) override;
  void on_layer_statistics(const LayerStatisticsEvent& e) override;
  void on_validation(const ValidationReport& r) override;
  void on_message(const std::string& m) override;
  void on_finished(const RunResult& r) override;

 private:
  std::vector<TrainingSink*> sinks_;
};

}  // namespace nl::run
