// A run's metrics on the UI thread, and their CSV form (see run_metrics.h).
#include "app/gui/run/run_metrics.h"

#include <QFile>
#include <QTextStream>

#include "engine/core/error.h"
#include "engine/run/metrics_csv.h"

namespace nl::app {

void RunMetrics::add(const RunEvents& events) {
  for (const run::StepMetrics& m : events.steps) {
    // Epochs end after their steps: an epoch row takes the last step seen.
    steps.push_back(m);
  }
  for (const run::EpochMetrics& m : events.epochs) {
    epochs.push_back(m);
    // The epoch's last step: the newest step of that epoch (events keep order per kind, and
    // an epoch is reported only after all of its steps).
    double end = 0;
    for (auto it = steps.rbegin(); it != steps.rend(); ++it)
      if (it->epoch <= m.epoch) {
        end = static_cast<double>(it->global_step);
        break;
      }
    epoch_end_steps_.push_back(end);
  }
  for (const run::LayerStatisticsEvent& e : events.layers) addLayerStatistics(e);
  if (events.validation) validation = events.validation;
  if (events.finished) result = events.finished;
}

void RunMetrics::addLayerStatistics(const run::LayerStatisticsEvent& e) {
  total_norm_steps.push_back(static_cast<double>(e.global_step));
  total_norms.push_back(e.total_gradient_norm);
  for (const run::LayerStatistics& l : e.layers) {
    auto [it, fresh] = layers.try_emplace(l.name);
    if (fresh) layer_order.push_back(l.name);
    LayerSeries& s = it->second;
    s.steps.push_back(static_cast<double>(e.global_step));
    s.gradient_norms.push_back(l.gradient_norm);
    s.histogram_steps.push_back(static_cast<double>(e.global_step));
    s.weights.push_back(l.weights);
    s.gradients.push_back(l.gradients);
    // Keep the history bounded: when full, drop every other snapshot (the newest stays).
    if (s.histogram_steps.size() > kMaxHistograms) {
      size_t keep = 0;
      const size_t n = s.histogram_steps.size();
      for (size_t i = 0; i < n; ++i)
        if (i % 2 == 0 || i == n - 1) {  // the first and the newest stay
          s.histogram_steps[keep] = s.histogram_steps[i];
          s.weights[keep] = std::move(s.weights[i]);
          s.gradients[keep] = std::move(s.gradients[i]);
          ++keep;
        }
      s.histogram_steps.resize(keep);
      s.weights.resize(keep);
      s.gradients.resize(keep);
    }
  }
}

double RunMetrics::stepOfEpoch(size_t i) const {
  if (i < epoch_end_steps_.size() && epoch_end_steps_[i] > 0) return epoch_end_steps_[i];
  const int64_t per_epoch = steps.empty() ? 1 : std::max<int64_t>(1, steps.front().batches_per_epoch);
  return static_cast<double>((epochs.at(i).epoch + 1) * per_epoch);
}

void RunMetrics::writeCsv(const QString& path) const {
  run::MetricsCsvWriter csv(path.toStdString());
  size_t next_step = 0;
  for (size_t e = 0; e < epochs.size(); ++e) {
    const double end = stepOfEpoch(e);
    while (next_step < steps.size() && static_cast<double>(steps[next_step].global_step) <= end)
      csv.on_step(steps[next_step++]);
    csv.on_epoch(epochs[e]);
  }
  while (next_step < steps.size()) csv.on_step(steps[next_step++]);
  if (result) csv.on_finished(*result);
}

RunMetrics RunMetrics::readCsv(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) throw Error(path.toStdString() + ": cannot open");
  QTextStream in(&f);
  RunMetrics m;
  const QString header = in.readLine();
  if (!header.startsWith("kind,epoch,step,batch,loss"))
    throw Error(path.toStdString() + ": line 1: not a Netloom metrics file (header '" + header.toStdString() + "')");
  int line_no = 1;
  auto number = [&](const QStringList& cols, int i, bool* present = nullptr) {
    const QString& c = cols.at(i);
    if (present) *present = !c.isEmpty();
    if (c.isEmpty()) return 0.0;
    bool ok = false;
    double v = c.toDouble(&ok);
    if (!ok && c != "nan" && c != "-nan" && c != "inf" && c != "-inf")
      throw Error(path.toStdString() + ": line " + std::to_string(line_no) + ": column " + std::to_string(i + 1) +
                  ": '" + c.toStdString() + "' is not a number");
    if (!ok) v = c.contains("nan") ? NAN : (c.startsWith('-') ? -INFINITY : INFINITY);
    return v;
  };
  while (!in.atEnd()) {
    const QString line = in.readLine();
    ++line_no;
    if (line.trimmed().isEmpty()) continue;
    const QStringList cols = line.split(',');
    if (cols.size() != 12)
      throw Error(path.toStdString() + ": line " + std::to_string(line_no) + ": expected 12 columns, found " +
                  std::to_string(cols.size()));
    if (cols[0] == "step") {
      run::StepMetrics s;
      s.epoch = static_cast<int64_t>(number(cols, 1));
      s.global_step = static_cast<int64_t>(number(cols, 2));
      s.batch = static_cast<int64_t>(number(cols, 3));
      s.loss = number(cols, 4);
      s.accuracy = number(cols, 5);
      s.learning_rate = number(cols, 6);
      s.samples_per_second = number(cols, 7);
      m.steps.push_back(s);
    } else if (cols[0] == "epoch") {
      run::EpochMetrics e;
      e.epoch = static_cast<int64_t>(number(cols, 1));
      e.train_loss = number(cols, 4);
      e.train_accuracy = number(cols, 5);
      e.val_loss = number(cols, 8, &e.has_validation);
      e.val_accuracy = number(cols, 9);
      e.val_top_k_accuracy = number(cols, 10);
      e.seconds = number(cols, 11);
      m.epochs.push_back(e);
      m.epoch_end_steps_.push_back(m.steps.empty() ? 0 : static_cast<double>(m.steps.back().global_step));
    } else {
      throw Error(path.toStdString() + ": line " + std::to_string(line_no) + ": unknown row kind '" +
                  cols[0].toStdString() + "'");
    }
  }
  return m;
}

}  // namespace nl::app
