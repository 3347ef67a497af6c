// Small painted views of the dashboard: a layer's weight or gradient distribution over time
// (a heat map of its histograms), the confusion matrix, and a grid of validation samples
// with their predicted and true labels.
#pragma once
#include <QWidget>
#include <string>
#include <vector>

#include "engine/run/training_events.h"

namespace nl::app {

// Columns are histogram snapshots in step order; rows span the values' range over all
// snapshots; a cell's darkness is the share of values in it.
class DistributionView : public QWidget {
  Q_OBJECT

 public:
  explicit DistributionView(const QString& title, QWidget* parent = nullptr);
  void setHistograms(const std::vector<double>& steps, const std::vector<run::Histogram>& histograms);
  int snapshotCount() const { return static_cast<int>(histograms_.size()); }
  QSize sizeHint() const override { return {320, 200}; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  QString title_;
  std::vector<double> steps_;
  std::vector<run::Histogram> histograms_;
};

class ConfusionMatrixView : public QWidget {
  Q_OBJECT

 public:
  explicit ConfusionMatrixView(QWidget* parent = nullptr);
  void setReport(const run::ValidationReport& report, const std::vector<std::string>& class_names);
  void clear();
  int64_t cell(int64_t truth, int64_t predicted) const;
  int64_t classCount() const { return classes_; }
  QSize sizeHint() const override { return {360, 320}; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  int64_t classes_ = 0;
  std::vector<int64_t> counts_;
  std::vector<std::string> names_;
  int64_t epoch_ = -1;
};

class SampleGridView : public QWidget {
  Q_OBJECT

 public:
  explicit SampleGridView(QWidget* parent = nullptr);
  // `caption` replaces the heading (the dataset preview shows true labels only).
  void setReport(const run::ValidationReport& report, const std::vector<std::string>& class_names,
                 const QString& caption = QString());
  void clear();
  int sampleCount() const { return static_cast<int>(samples_.size()); }
  bool showsImages() const { return images_; }
  QSize sizeHint() const override { return {420, 320}; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  std::vector<run::ValidationReport::Sample> samples_;
  std::vector<std::string> names_;
  QString caption_;
  bool images_ = false;
};

}  // namespace nl::app
