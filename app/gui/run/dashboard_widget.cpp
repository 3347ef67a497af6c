// The training dashboard (see dashboard_widget.h).
#include "app/gui/run/dashboard_widget.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QSvgGenerator>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <cmath>

#include "app/gui/run/metric_chart.h"
#include "app/gui/run/run_views.h"

namespace nl::app {

namespace {

const QColor kTrain(110, 165, 215), kTrainEpoch(31, 100, 200), kVal(255, 127, 14), kLr(44, 160, 44),
    kSpeed(148, 103, 189);

QColor layerColor(size_t i) {
  static const QColor colors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                  QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                  QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                  QColor(23, 190, 207)};
  return colors[i % 10];
}

QString duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("–");
  const qint64 s = static_cast<qint64>(seconds + 0.5);
  if (s >= 3600) return QString("%1:%2:%3").arg(s / 3600).arg(s / 60 % 60, 2, 10, QChar('0')).arg(s % 60, 2, 10, QChar('0'));
  return QString("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QChar('0'));
}

// Resident memory of this process in bytes (Linux /proc); 0 where unknown.
double residentBytes() {
  QFile f("/proc/self/statm");
  if (!f.open(QIODevice::ReadOnly)) return 0;
  const QList<QByteArray> parts = f.readAll().split(' ');
  if (parts.size() < 2) return 0;
  return parts[1].toDouble() * 4096.0;
}

QLabel* statLabel(const QString& name) {
  auto* l = new QLabel;
  l->setObjectName(name);
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return l;
}

}  // namespace

std::vector<double> smoothed(const std::vector<double>& values, double weight) {
  std::vector<double> out(values.size());
  double last = 0, power = 1;
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) {  // a NaN must not poison everything after it
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    power *= weight;  // weight^n, n the finite values so far
    out[i] = last / (1 - power);
  }
  return out;
}

Decimated decimate(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& env,
                   int max_points) {
  Decimated d;
  const size_t n = std::min(x.size(), y.size());
  if (n == 0) return d;
  const size_t bucket = std::max<size_t>(1, (n + max_points - 1) / std::max(1, max_points));
  for (size_t start = 0; start < n; start += bucket) {
    const size_t end = std::min(n, start + bucket);
    double sx = 0, sy = 0, lo = INFINITY, hi = -INFINITY;
    size_t finite = 0;
    for (size_t i = start; i < end; ++i) {
      if (!std::isfinite(y[i])) continue;
      sx += x[i];
      sy += y[i];
      ++finite;
      const double e = i < env.size() ? env[i] : y[i];
      if (std::isfinite(e)) {
        lo = std::min(lo, e);
        hi = std::max(hi, e);
      }
    }
    if (finite == 0) continue;
    d.mean.push_back(QPointF(sx / finite, sy / finite));
    if (std::isfinite(lo)) {
      d.low.push_back(QPointF(sx / finite, lo));
      d.high.push_back(QPointF(sx / finite, hi));
    }
  }
  return d;
}

DashboardWidget::DashboardWidget(QWidget* parent) : QWidget(parent), redraw_timer_(new QTimer(this)) {
  redraw_timer_->setSingleShot(true);
  connect(redraw_timer_, &QTimer::timeout, this, &DashboardWidget::redraw);

  // Status row.
  status_ = statLabel("runStatusLabel");
  status_->setText(tr("No run yet: Train ▸ Start (F5)"));
  QFont bold = status_->font();
  bold.setBold(true);
  status_->setFont(bold);
  progress_ = new QProgressBar;
  progress_->setObjectName("runProgress");
  progress_->setRange(0, 1000);
  progress_->setTextVisible(false);
  progress_->setMaximumWidth(220);
  progress_text_ = statLabel("progressLabel");
  time_ = statLabel("timeLabel");
  speed_ = statLabel("speedLabel");
  memory_ = statLabel("memoryLabel");
  final_accuracy_ = statLabel("finalAccuracyLabel");
  final_accuracy_->setFont(bold);
  auto* stats = new QHBoxLayout;
  stats->addWidget(status_);
  stats->addWidget(progress_);
  for (QLabel* l : {progress_text_, time_, speed_, memory_, final_accuracy_}) {
    stats->addSpacing(8);
    stats->addWidget(l);
  }
  stats->addStretch(1);

  message_ = statLabel("runMessageLabel");
  message_->setWordWrap(true);
  hints_ = statLabel("hintsLabel");
  hints_->setWordWrap(true);
  hints_->setStyleSheet("QLabel { background: rgba(241, 196, 15, 60); border-radius: 3px; padding: 3px; }");
  hints_->hide();
  note_ = statLabel("snapshotNote");
  note_->setText(tr("A run trains a snapshot of the model and settings taken at Start: canvas and setting edits "
                    "made during a run apply on the next start."));
  note_->setWordWrap(true);
  QFont small = note_->font();
  small.setPointSizeF(small.pointSizeF() * 0.9);
  note_->setFont(small);
  note_->setStyleSheet("color: palette(mid)");

  // Chart controls.
  smoothing_ = new QSlider(Qt::Horizontal);
  smoothing_->setObjectName("smoothingSlider");
  smoothing_->setRange(0, 99);
  smoothing_->setValue(60);
  smoothing_->setMaximumWidth(160);
  smoothing_->setToolTip(tr("Smoothing of per-step curves (exponential moving average)"));
  envelope_ = new QCheckBox(tr("Min/max envelope"));
  envelope_->setObjectName("envelopeCheck");
  envelope_->setChecked(true);
  auto* smoothing_value = new QLabel(QString::number(0.60, 'f', 2));
  connect(smoothing_, &QSlider::valueChanged, this, [this, smoothing_value](int v) {
    smoothing_value->setText(QString::number(v / 100.0, 'f', 2));
    redraw();
  });
  connect(envelope_, &QCheckBox::toggled, this, [this] { redraw(); });
  auto* export_png = new QPushButton(tr("Export Charts…"));
  export_png->setObjectName("exportChartsButton");
  auto* export_csv = new QPushButton(tr("Export CSV…"));
  export_csv->setObjectName("exportCsvButton");
  connect(export_png, &QPushButton::clicked, this, [this] {
    QString path = QFileDialog::getSaveFileName(this, tr("Export Charts"), "charts.png",
                                                tr("PNG image (*.png);;SVG drawing (*.svg)"));
    if (!path.isEmpty()) exportCharts(path);
  });
  connect(export_csv, &QPushButton::clicked, this, [this] {
    QString path = QFileDialog::getSaveFileName(this, tr("Export Metrics"), "metrics.csv", tr("CSV (*.csv)"));
    if (!path.isEmpty()) exportCsv(path);
  });
  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Smoothing")));
  controls->addWidget(smoothing_);
  controls->addWidget(smoothing_value);
  controls->addWidget(envelope_);
  controls->addStretch(1);
  controls->addWidget(export_png);
  controls->addWidget(export_csv);

  // Tabs.
  tabs_ = new QTabWidget;
  tabs_->setObjectName("dashboardTabs");
  loss_chart_ = new MetricChart(tr("Loss"), tr("loss"));
  accuracy_chart_ = new MetricChart(tr("Accuracy"), tr("accuracy"));
  accuracy_chart_->setYRange(0, 1);
  lr_chart_ = new MetricChart(tr("Learning rate"), tr("lr"));
  speed_chart_ = new MetricChart(tr("Throughput"), tr("samples/s"));
  auto* overview = new QWidget;
  auto* grid = new QGridLayout(overview);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(2);
  grid->addWidget(loss_chart_, 0, 0);
  grid->addWidget(accuracy_chart_, 0, 1);
  grid->addWidget(lr_chart_, 1, 0);
  grid->addWidget(speed_chart_, 1, 1);
  grid->setRowStretch(0, 3);
  grid->setRowStretch(1, 2);
  tabs_->addTab(overview, tr("Metrics"));

  norm_chart_ = new MetricChart(tr("Gradient norm per layer"), tr("‖g‖"), /*log_y=*/true);
  total_norm_chart_ = new MetricChart(tr("Total gradient norm"), tr("‖g‖"), /*log_y=*/true);
  layer_combo_ = new QComboBox;
  layer_combo_->setObjectName("layerCombo");
  weights_view_ = new DistributionView(tr("Weights over time"));
  gradients_view_ = new DistributionView(tr("Gradients over time"));
  connect(layer_combo_, &QComboBox::currentIndexChanged, this, [this] { plotLayers(true); });
  auto* layers = new QWidget;
  auto* lg = new QGridLayout(layers);
  lg->setContentsMargins(0, 0, 0, 0);
  lg->addWidget(norm_chart_, 0, 0, 2, 1);
  lg->addWidget(total_norm_chart_, 2, 0);
  auto* pick = new QHBoxLayout;
  pick->addWidget(new QLabel(tr("Layer")));
  pick->addWidget(layer_combo_, 1);
  lg->addLayout(pick, 0, 1);
  auto* dists = new QVBoxLayout;
  dists->addWidget(weights_view_);
  dists->addWidget(gradients_view_);
  lg->addLayout(dists, 1, 1, 2, 1);
  lg->setColumnStretch(0, 3);
  lg->setColumnStretch(1, 2);
  tabs_->addTab(layers, tr("Layers"));

  confusion_ = new ConfusionMatrixView;
  samples_ = new SampleGridView;
  auto* validation = new QSplitter(Qt::Horizontal);
  validation->addWidget(confusion_);
  validation->addWidget(samples_);
  tabs_->addTab(validation, tr("Validation"));

  history_ = new QListWidget;
  history_->setObjectName("historyList");
  connect(history_, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
    setOverlay(item->data(Qt::UserRole).toString(), item->checkState() == Qt::Checked);
  });
  auto* history_page = new QWidget;
  auto* hl = new QVBoxLayout(history_page);
  hl->setContentsMargins(4, 4, 4, 4);
  auto* history_note = new QLabel(tr("Every run of this project is kept beside it (settings, metrics.csv, TensorBoard "
                                     "events). Tick runs to overlay their per-epoch curves on the charts."));
  history_note->setWordWrap(true);
  hl->addWidget(history_note);
  hl->addWidget(history_);
  tabs_->addTab(history_page, tr("History"));

  connect(tabs_, &QTabWidget::currentChanged, this, [this] { redraw(); });

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(3);
  layout->addLayout(stats);
  layout->addWidget(message_);
  layout->addWidget(hints_);
  layout->addLayout(controls);
  layout->addWidget(tabs_, 1);
  layout->addWidget(note_);
  message_->hide();
  redraw();
}

void DashboardWidget::beginRun(int64_t epochs, int64_t total_steps) {
  metrics_.clear();
  hints_model_ = run::TrainingHints{};
  epochs_ = epochs;
  total_steps_ = total_steps;
  run_clock_.start();
  paused_ms_ = 0;
  final_accuracy_->clear();
  message_->clear();
  message_->hide();
  hints_->hide();
  confusion_->clear();
  samples_->clear();
  layer_combo_->clear();
  for (MetricChart* c : {loss_chart_, accuracy_chart_, lr_chart_, speed_chart_, norm_chart_, total_norm_chart_})
    c->clearAll();
  redraw();
}

void DashboardWidget::addEvents(const RunEvents& events) {
  metrics_.add(events);
  for (const auto& s : events.steps) hints_model_.add_step(s);
  for (const auto& e : events.epochs) hints_model_.add_epoch(e);
  for (const auto& l : events.layers) hints_model_.add_layer_statistics(l);
  if (events.finished) hints_model_.add_result(*events.finished);
  if (events.validation) {
    confusion_->setReport(*events.validation, class_names_);
    samples_->setReport(*events.validation, class_names_);
  }
  if (!events.messages.empty()) {
    message_->setText(QString::fromStdString(events.messages.back()));
    message_->show();
  }
  scheduleRedraw();
}

void DashboardWidget::scheduleRedraw() {
  // Paced: at most kRedrawHz redraws a second, the last events always drawn.
  if (redraw_timer_->isActive()) return;
  const qint64 gap = 1000 / kRedrawHz;
  const qint64 since = since_redraw_.isValid() ? since_redraw_.elapsed() : gap;
  redraw_timer_->start(static_cast<int>(std::max<qint64>(0, gap - since)));
}

void DashboardWidget::setState(RunController::State s) {
  if (s == RunController::State::Paused && state_ != s) pause_clock_.start();
  if (state_ == RunController::State::Paused && s != RunController::State::Paused && pause_clock_.isValid()) paused_ms_ += pause_clock_.elapsed();
  state_ = s;
  if (s != RunController::State::Finished) status_->setText(QString::fromLatin1(run_state_name(s)));
  updateStats();
}

void DashboardWidget::setFinished(const run::RunResult& r) {
  state_ = RunController::State::Finished;
  status_->setText(QString::fromLatin1(run::run_status_name(r.status)));
  status_->setStyleSheet(r.status == run::RunStatus::Failed ? "color: #c0392b" : "");
  if (!r.message.empty()) {
    message_->setText(r.status == run::RunStatus::Failed ? tr("Run failed: %1").arg(QString::fromStdString(r.message))
                                                        : QString::fromStdString(r.message));
    message_->setStyleSheet(r.status == run::RunStatus::Failed ? "color: #c0392b; font-weight: bold" : "");
    message_->show();
  }
  const run::EpochMetrics& e = r.last_epoch;
  if (r.epochs_completed > 0) {
    final_accuracy_->setText(e.has_validation ? tr("Final accuracy: %1% (val), %2% (train)")
                                                    .arg(100 * e.val_accuracy, 0, 'f', 1)
                                                    .arg(100 * e.train_accuracy, 0, 'f', 1)
                                              : tr("Final accuracy: %1% (train)").arg(100 * e.train_accuracy, 0, 'f', 1));
  }
  redraw();
  refreshHistory();
}

void DashboardWidget::plotSteps(MetricChart* chart, const QString& name, const QColor& color,
                                double run::StepMetrics::*field, bool smooth) {
  std::vector<double> x, y;
  x.reserve(metrics_.steps.size());
  y.reserve(metrics_.steps.size());
  for (const run::StepMetrics& s : metrics_.steps) {
    x.push_back(static_cast<double>(s.global_step));
    y.push_back(s.*field);
  }
  const double w = smooth ? smoothing_->value() / 100.0 : 0.0;
  Decimated d = decimate(x, w > 0 ? smoothed(y, w) : y, y, kMaxPoints);
  chart->setSeries(name, d.mean, color, false, 1.5);
  if (smooth) {
    if (envelope_->isChecked()) chart->setEnvelope(name, d.low, d.high, color);
    else chart->setEnvelope(name, {}, {}, color);
  }
}

void DashboardWidget::plotEpochs() {
  QList<QPointF> train_loss, val_loss, train_acc, val_acc;
  for (size_t i = 0; i < metrics_.epochs.size(); ++i) {
    const run::EpochMetrics& e = metrics_.epochs[i];
    const double x = metrics_.stepOfEpoch(i);
    train_loss.push_back({x, e.train_loss});
    train_acc.push_back({x, e.train_accuracy});
    if (e.has_validation) {
      val_loss.push_back({x, e.val_loss});
      val_acc.push_back({x, e.val_accuracy});
    }
  }
  loss_chart_->setSeries(tr("train (epoch)"), train_loss, kTrainEpoch, false, 2.5);
  loss_chart_->setSeries(tr("validation (epoch)"), val_loss, kVal, false, 2.5);
  accuracy_chart_->setSeries(tr("train (epoch)"), train_acc, kTrainEpoch, false, 2.5);
  accuracy_chart_->setSeries(tr("validation (epoch)"), val_acc, kVal, false, 2.5);
}

void DashboardWidget::plotLayers(bool charts) {
  std::map<std::string, std::vector<double>> norms;
  for (const auto& [name, s] : metrics_.layers) norms[name] = s.gradient_norms;
  emit layerNormsChanged(norms);
  if (!charts) return;
  // Per-layer gradient norms, decimated.
  size_t i = 0;
  for (const std::string& name : metrics_.layer_order) {
    const LayerSeries& s = metrics_.layers.at(name);
    Decimated d = decimate(s.steps, s.gradient_norms, {}, kMaxPoints / 2);
    norm_chart_->setSeries(QString::fromStdString(name), d.mean, layerColor(i++), false, 1.5);
  }
  Decimated total = decimate(metrics_.total_norm_steps, metrics_.total_norms, {}, kMaxPoints);
  total_norm_chart_->setSeries(tr("total"), total.mean, QColor(214, 39, 40), false, 1.5);
  norm_chart_->rescale();
  total_norm_chart_->rescale();

  if (layer_combo_->count() != static_cast<int>(metrics_.layer_order.size())) {
    const QString current = layer_combo_->currentText();
    QSignalBlocker block(layer_combo_);
    layer_combo_->clear();
    for (const std::string& name : metrics_.layer_order) layer_combo_->addItem(QString::fromStdString(name));
    int at = layer_combo_->findText(current);
    layer_combo_->setCurrentIndex(at >= 0 ? at : 0);
  }
  auto it = metrics_.layers.find(layer_combo_->currentText().toStdString());
  if (it == metrics_.layers.end()) {
    weights_view_->setHistograms({}, {});
    gradients_view_->setHistograms({}, {});
  } else {
    weights_view_->setHistograms(it->second.histogram_steps, it->second.weights);
    gradients_view_->setHistograms(it->second.histogram_steps, it->second.gradients);
  }
}

void DashboardWidget::plotOverlays() {
  int k = 0;
  QStringList keep_loss, keep_acc;
  for (const auto& [folder, m] : overlays_) {
    const QString name = QFileInfo(folder).fileName();
    QList<QPointF> loss, acc;
    for (size_t i = 0; i < m.epochs.size(); ++i) {
      const double x = m.stepOfEpoch(i);
      const run::EpochMetrics& e = m.epochs[i];
      loss.push_back({x, e.has_validation ? e.val_loss : e.train_loss});
      acc.push_back({x, e.has_validation ? e.val_accuracy : e.train_accuracy});
    }
    QColor c = layerColor(3 + k++);
    loss_chart_->setSeries(name, loss, c, true, 1.5);
    accuracy_chart_->setSeries(name, acc, c, true, 1.5);
    keep_loss << name;
  }
  // Runs no longer ticked: drop their series (the current run's series keep their names).
  const QStringList own = {tr("train"), tr("train (epoch)"), tr("validation (epoch)")};
  for (MetricChart* c : {loss_chart_, accuracy_chart_})
    for (const QString& n : c->seriesNames())
      if (!own.contains(n) && !keep_loss.contains(n)) c->removeSeries(n);
}

void DashboardWidget::redraw() {
  redraw_pending_ = false;
  since_redraw_.start();
  ++redraws_;
  // Only the visible tab's charts are replotted (a chart's geometry update is the costly
  // part); the others catch up when their tab is shown.
  const int tab = tabs_->currentIndex();
  if (tab == 0) {
    plotSteps(loss_chart_, tr("train"), kTrain, &run::StepMetrics::loss, true);
    plotSteps(accuracy_chart_, tr("train"), kTrain, &run::StepMetrics::accuracy, true);
    plotSteps(lr_chart_, tr("learning rate"), kLr, &run::StepMetrics::learning_rate, false);
    plotSteps(speed_chart_, tr("samples/s"), kSpeed, &run::StepMetrics::samples_per_second, true);
    plotEpochs();
    plotOverlays();
    for (MetricChart* c : {loss_chart_, accuracy_chart_, lr_chart_, speed_chart_}) c->rescale();
  }
  plotLayers(tab == 1);
  updateStats();
  updateHints();
}

void DashboardWidget::updateStats() {
  const bool has_steps = !metrics_.steps.empty();
  const run::StepMetrics last = has_steps ? metrics_.steps.back() : run::StepMetrics{};
  const int64_t total = total_steps_ > 0 ? total_steps_ : (last.batches_per_epoch * epochs_);
  const double fraction = total > 0 ? std::min(1.0, double(last.global_step) / double(total)) : 0;
  progress_->setValue(static_cast<int>(fraction * 1000));
  if (has_steps)
    progress_text_->setText(tr("epoch %1/%2 · step %3/%4")
                                .arg(last.epoch + 1)
                                .arg(epochs_)
                                .arg(last.global_step)
                                .arg(total));
  else
    progress_text_->clear();
  if (run_clock_.isValid() && state_ != RunController::State::Idle) {
    qint64 paused = paused_ms_ + (state_ == RunController::State::Paused && pause_clock_.isValid() ? pause_clock_.elapsed() : 0);
    const double elapsed = (run_clock_.elapsed() - paused) / 1000.0;
    const bool running = state_ != RunController::State::Finished;
    const double remaining = fraction > 0 && running ? elapsed * (1 - fraction) / fraction : NAN;
    time_->setText(running ? tr("elapsed %1 · remaining %2").arg(duration(elapsed), duration(remaining))
                           : tr("took %1").arg(duration(elapsed)));
  }
  if (has_steps) {
    // Mean of the last few steps: one step's rate jitters.
    double sum = 0;
    size_t n = 0;
    for (auto it = metrics_.steps.rbegin(); it != metrics_.steps.rend() && n < 20; ++it, ++n) sum += it->samples_per_second;
    speed_->setText(tr("%1 samples/s").arg(QLocale().toString(sum / std::max<size_t>(1, n), 'f', 0)));
  }
  const double rss = residentBytes();
  QString memory = rss > 0 ? tr("memory %1 MB").arg(rss / (1024.0 * 1024.0), 0, 'f', 0) : QString();
  if (has_steps && last.device_memory_reserved > 0)  // training on a GPU
    memory += tr(" · GPU %1 MB (%2 MB reserved)")
                  .arg(last.device_memory_allocated / (1024.0 * 1024.0), 0, 'f', 0)
                  .arg(last.device_memory_reserved / (1024.0 * 1024.0), 0, 'f', 0);
  memory_->setText(memory);
}

void DashboardWidget::updateHints() {
  std::vector<run::Hint> hints = hints_model_.current();
  if (hints.empty()) {
    hints_->hide();
    return;
  }
  QStringList lines;
  for (const run::Hint& h : hints) lines << QStringLiteral("⚠ ") + QString::fromStdString(h.text);
  hints_->setText(lines.join('\n'));
  hints_->show();
}

// --- History ---

void DashboardWidget::setHistoryFolder(const QString& folder) {
  if (folder == history_folder_) return;
  history_folder_ = folder;
  overlays_.clear();
  refreshHistory();
  redraw();
}

void DashboardWidget::refreshHistory() {
  QSignalBlocker block(history_);
  history_->clear();
  if (history_folder_.isEmpty()) return;
  QDir dir(history_folder_);
  const QStringList runs = dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name | QDir::Reversed);
  for (const QString& r : runs) {
    const QString folder = dir.absoluteFilePath(r);
    if (!QFileInfo::exists(folder + "/metrics.csv")) continue;
    QString label = r;
    QFile result(folder + "/result.json");
    if (result.open(QIODevice::ReadOnly)) {
      QJsonObject o = QJsonDocument::fromJson(result.readAll()).object();
      label += QStringLiteral("  —  %1, %2 epochs").arg(o.value("status").toString()).arg(o.value("epochs_completed").toInt());
    }
    auto* item = new QListWidgetItem(label, history_);
    item->setData(Qt::UserRole, folder);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(overlays_.count(folder) ? Qt::Checked : Qt::Unchecked);
  }
  emit historyChanged();
}

bool DashboardWidget::setOverlay(const QString& folder, bool shown) {
  if (!shown) {
    overlays_.erase(folder);
  } else {
    try {
      overlays_[folder] = RunMetrics::readCsv(folder + "/metrics.csv");
    } catch (const std::exception& e) {
      message_->setText(QString::fromUtf8(e.what()));
      message_->show();
      return false;
    }
  }
  redraw();
  return true;
}

// --- Export ---

bool DashboardWidget::exportCharts(const QString& path) {
  QWidget* page = tabs_->currentWidget();
  if (path.endsWith(".svg", Qt::CaseInsensitive)) {
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(page->size());
    svg.setViewBox(QRect(QPoint(0, 0), page->size()));
    svg.setTitle(tr("Netloom training charts"));
    QPainter p;
    if (!p.begin(&svg)) return false;
    page->render(&p);
    return p.end();
  }
  return page->grab().save(path);
}

bool DashboardWidget::exportCsv(const QString& path) {
  try {
    metrics_.writeCsv(path);
  } catch (const std::exception& e) {
    message_->setText(QString::fromUtf8(e.what()));
    message_->show();
    return false;
  }
  return true;
}

}  // namespace nl::app
