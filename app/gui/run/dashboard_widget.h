// The training dashboard: run controls and status, live charts (loss, accuracy, learning
// rate, throughput, gradient norms) with smoothing and a min/max envelope, elapsed and
// remaining time and memory, per-layer gradient norms and weight/gradient distributions,
// the confusion matrix and validation samples, training-problem hints, and the run history
// of the project with overlays and export (PNG/SVG charts, CSV metrics).
//
// It plots from RunMetrics and redraws at most kRedrawHz times a second whatever the event
// rate, plotting at most kMaxPoints points per series (Note [Event coalescing]).
#pragma once
#include <QElapsedTimer>
#include <QWidget>
#include <map>

#include "app/gui/run/run_controller.h"
#include "app/gui/run/run_metrics.h"
#include "engine/run/training_hints.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSlider;
class QTabWidget;
class QTimer;

namespace nl::app {

class ConfusionMatrixView;
class DistributionView;
class MetricChart;
class SampleGridView;

class DashboardWidget : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kMaxPoints = 400;
  static constexpr int kRedrawHz = 8;

  explicit DashboardWidget(QWidget* parent = nullptr);

  // A run starts: clears the current run's charts (overlays stay). `total_steps` sizes the
  // progress bar and the remaining-time estimate (0: unknown).
  void beginRun(int64_t epochs, int64_t total_steps);
  void addEvents(const RunEvents& events);
  void setState(RunController::State state);
  void setFinished(const run::RunResult& result);
  void setClassNames(const std::vector<std::string>& names) { class_names_ = names; }

  // Run history: the folder holding this project's runs (one subfolder each); "" hides it.
  void setHistoryFolder(const QString& folder);
  void refreshHistory();
  // Overlays a past run (a folder with metrics.csv) on the charts; false with a message when
  // its metrics cannot be read.
  bool setOverlay(const QString& run_folder, bool shown);

  // Export: charts of the visible tab as PNG or SVG (by the extension), metrics as CSV.
  bool exportCharts(const QString& path);
  bool exportCsv(const QString& path);

  const RunMetrics& metrics() const { return metrics_; }
  MetricChart* lossChart() const { return loss_chart_; }
  MetricChart* accuracyChart() const { return accuracy_chart_; }
  MetricChart* learningRateChart() const { return lr_chart_; }
  MetricChart* throughputChart() const { return speed_chart_; }
  MetricChart* layerNormChart() const { return norm_chart_; }
  ConfusionMatrixView* confusionView() const { return confusion_; }
  SampleGridView* sampleView() const { return samples_; }
  DistributionView* weightDistribution() const { return weights_view_; }
  DistributionView* gradientDistribution() const { return gradients_view_; }
  QLabel* statusLabel() const { return status_; }
  QLabel* messageLabel() const { return message_; }
  QLabel* finalAccuracyLabel() const { return final_accuracy_; }
  QLabel* hintsLabel() const { return hints_; }
  QSlider* smoothingSlider() const { return smoothing_; }
  QCheckBox* envelopeCheck() const { return envelope_; }
  QListWidget* historyList() const { return history_; }
  QTabWidget* tabs() const { return tabs_; }
  int redrawCount() const { return redraws_; }
  // Redraws now (tests and screenshots; otherwise redraws are paced).
  void redraw();

 signals:
  // The latest gradient norms per layer (module name → norms over time), for the canvas.
  void layerNormsChanged(const std::map<std::string, std::vector<double>>& norms);
  void historyChanged();

 private:
  void scheduleRedraw();
  void plotSteps(MetricChart* chart, const QString& name, const QColor& color,
                 double run::StepMetrics::*field, bool smooth);
  void plotEpochs();
  void plotLayers(bool charts);  // the canvas sparklines always, the Layers tab's charts when asked
  void plotOverlays();
  void updateStats();
  void updateHints();

  RunMetrics metrics_;
  std::map<QString, RunMetrics> overlays_;  // run folder → metrics
  std::vector<std::string> class_names_;
  run::TrainingHints hints_model_;
  QString history_folder_;
  int64_t epochs_ = 0, total_steps_ = 0;
  QElapsedTimer run_clock_, since_redraw_;
  qint64 paused_ms_ = 0;
  QElapsedTimer pause_clock_;
  RunController::State state_ = RunController::State::Idle;
  bool redraw_pending_ = false;
  int redraws_ = 0;
  QTimer* redraw_timer_;

  QLabel *status_, *message_, *progress_text_, *time_, *speed_, *memory_, *final_accuracy_, *hints_, *note_;
  QProgressBar* progress_;
  QSlider* smoothing_;
  QCheckBox* envelope_;
  QTabWidget* tabs_;
  MetricChart *loss_chart_, *accuracy_chart_, *lr_chart_, *speed_chart_, *norm_chart_, *total_norm_chart_;
  QComboBox* layer_combo_;
  DistributionView *weights_view_, *gradients_view_;
  ConfusionMatrixView* confusion_;
  SampleGridView* samples_;
  QListWidget* history_;
};

// Exponential moving average with TensorBoard's debiasing; weight in [0, 1).
std::vector<double> smoothed(const std::vector<double>& values, double weight);
// At most `max_points` buckets of consecutive points: each bucket's mean x and y, and the
// min and max of `envelope_source` (same length as y) in it.
struct Decimated {
  QList<QPointF> mean, low, high;
};
Decimated decimate(const std::vector<double>& x, const std::vector<double>& y,
                   const std::vector<double>& envelope_source, int max_points);

}  // namespace nl::app
