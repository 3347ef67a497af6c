// Everything one run has reported so far, kept on the UI thread: every step and epoch, the
// per-layer gradient norms and a thinned history of weight/gradient histograms, the latest
// validation report. The dashboard plots from it; run history loads past runs into it from
// their metrics.csv; Export writes it back out in that same CSV form.
#pragma once
#include <QString>
#include <map>
#include <string>
#include <vector>

#include "app/gui/run/run_controller.h"

namespace nl::app {

struct LayerSeries {
  std::vector<double> steps, gradient_norms;
  // Histograms at thinned steps (at most kMaxHistograms, evenly spread over the run).
  std::vector<double> histogram_steps;
  std::vector<run::Histogram> weights, gradients;
};

struct RunMetrics {
  static constexpr size_t kMaxHistograms = 60;

  QString name;  // the run's folder name, or "current run"
  std::vector<run::StepMetrics> steps;
  std::vector<run::EpochMetrics> epochs;
  std::vector<std::string> layer_order;
  std::map<std::string, LayerSeries> layers;
  std::vector<double> total_norm_steps, total_norms;
  std::optional<run::ValidationReport> validation;
  std::optional<run::RunResult> result;

  void clear() { *this = RunMetrics{}; }
  void add(const RunEvents& events);
  void addLayerStatistics(const run::LayerStatisticsEvent& e);
  // The global step at the end of each epoch (epoch metrics carry none), for plotting epoch
  // values on the step axis; falls back to (epoch + 1) × batches per epoch.
  double stepOfEpoch(size_t epoch_index) const;

  // Writes steps and epochs in MetricsCsvWriter's format (what a run folder's metrics.csv holds).
  void writeCsv(const QString& path) const;
  // Reads a metrics.csv back (steps and epochs); throws nl::Error naming the file and line.
  static RunMetrics readCsv(const QString& path);

 private:
  std::vector<double> epoch_end_steps_;
};

}  // namespace nl::app
