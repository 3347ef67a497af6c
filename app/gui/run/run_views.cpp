// Painted dashboard views: distributions, confusion matrix, validation samples.
#include "app/gui/run/run_views.h"

#include <QImage>
#include <QPainter>
#include <QPaintEvent>
#include <algorithm>
#include <cmath>

namespace nl::app {

namespace {

QColor classColor(int64_t c) {
  static const QColor colors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                  QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                  QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                  QColor(23, 190, 207)};
  return colors[((c % 10) + 10) % 10];
}

QString className(const std::vector<std::string>& names, int64_t c) {
  if (c >= 0 && c < static_cast<int64_t>(names.size()) && !names[c].empty()) return QString::fromStdString(names[c]);
  return QString::number(c);
}

void drawEmpty(QPainter& p, const QRect& r, const QString& text) {
  p.setPen(QColor(128, 128, 128));
  p.drawText(r, Qt::AlignCenter | Qt::TextWordWrap, text);
}

}  // namespace

// --- DistributionView ---

DistributionView::DistributionView(const QString& title, QWidget* parent) : QWidget(parent), title_(title) {
  setMinimumSize(200, 140);
}

void DistributionView::setHistograms(const std::vector<double>& steps, const std::vector<run::Histogram>& h) {
  steps_ = steps;
  histograms_ = h;
  update();
}

void DistributionView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  p.setPen(palette().text().color());
  QFont f = font();
  f.setBold(true);
  p.setFont(f);
  const int title_h = fontMetrics().height() + 4;
  p.drawText(QRect(0, 0, width(), title_h), Qt::AlignCenter, title_);
  p.setFont(font());
  const QRect plot(52, title_h + 2, width() - 60, height() - title_h - 24);
  if (histograms_.empty() || plot.width() < 10 || plot.height() < 10) {
    drawEmpty(p, plot, tr("No histograms yet"));
    return;
  }
  double lo = INFINITY, hi = -INFINITY;
  for (const run::Histogram& h : histograms_)
    if (!h.buckets.empty() && std::isfinite(h.min) && std::isfinite(h.max)) {
      lo = std::min(lo, h.min);
      hi = std::max(hi, h.max);
    }
  if (!std::isfinite(lo)) {
    drawEmpty(p, plot, tr("No finite values"));
    return;
  }
  if (hi <= lo) hi = lo + 1e-12;
  const int n = static_cast<int>(histograms_.size());
  const double col_w = double(plot.width()) / n;
  QColor ink = palette().highlight().color();
  for (int i = 0; i < n; ++i) {
    const run::Histogram& h = histograms_[i];
    double peak = 0;
    for (double b : h.buckets) peak = std::max(peak, b);
    if (peak <= 0) continue;
    double left = h.min;
    for (size_t b = 0; b < h.buckets.size(); ++b) {
      const double right = h.bucket_limits[b];
      const double y_top = plot.bottom() - (right - lo) / (hi - lo) * plot.height();
      const double y_bottom = plot.bottom() - (left - lo) / (hi - lo) * plot.height();
      QColor c = ink;
      c.setAlphaF(std::clamp(h.buckets[b] / peak, 0.0, 1.0) * 0.9);
      p.fillRect(QRectF(plot.left() + i * col_w, y_top, std::max(col_w, 1.0), std::max(y_bottom - y_top, 1.0)), c);
      left = right;
    }
  }
  p.setPen(palette().mid().color());
  p.drawRect(plot);
  p.setPen(palette().text().color());
  QFont small = font();
  small.setPointSizeF(std::max(6.0, small.pointSizeF() - 1));
  p.setFont(small);
  p.drawText(QRect(0, plot.top() - 6, 50, 14), Qt::AlignRight, QString::number(hi, 'g', 3));
  p.drawText(QRect(0, plot.bottom() - 8, 50, 14), Qt::AlignRight, QString::number(lo, 'g', 3));
  p.drawText(QRect(plot.left(), plot.bottom() + 2, 120, 16), Qt::AlignLeft,
             tr("step %1").arg(steps_.empty() ? 0 : steps_.front()));
  p.drawText(QRect(plot.right() - 120, plot.bottom() + 2, 120, 16), Qt::AlignRight,
             tr("step %1").arg(steps_.empty() ? 0 : steps_.back()));
}

// --- ConfusionMatrixView ---

ConfusionMatrixView::ConfusionMatrixView(QWidget* parent) : QWidget(parent) { setMinimumSize(200, 180); }

void ConfusionMatrixView::setReport(const run::ValidationReport& r, const std::vector<std::string>& names) {
  classes_ = r.num_classes;
  counts_ = r.confusion;
  names_ = names;
  epoch_ = r.epoch;
  update();
}

void ConfusionMatrixView::clear() {
  classes_ = 0;
  counts_.clear();
  epoch_ = -1;
  update();
}

int64_t ConfusionMatrixView::cell(int64_t t, int64_t pr) const {
  if (t < 0 || pr < 0 || t >= classes_ || pr >= classes_) return 0;
  return counts_[t * classes_ + pr];
}

void ConfusionMatrixView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  if (classes_ == 0) {
    drawEmpty(p, rect(), tr("The confusion matrix appears after the first validation pass (classification)."));
    return;
  }
  const int label_w = 70, title_h = fontMetrics().height() + 6;
  p.setPen(palette().text().color());
  p.drawText(QRect(0, 0, width(), title_h), Qt::AlignCenter,
             tr("Validation, epoch %1: rows true class, columns predicted").arg(epoch_ + 1));
  const int side = std::min(width() - label_w - 8, height() - title_h - label_w / 2 - 8);
  if (side < 20) return;
  const double cell_size = std::min(90.0, double(side) / classes_);
  const QPointF origin(label_w, title_h + 20);
  std::vector<int64_t> row_sum(classes_, 0);
  for (int64_t t = 0; t < classes_; ++t)
    for (int64_t c = 0; c < classes_; ++c) row_sum[t] += counts_[t * classes_ + c];
  QFont small = font();
  small.setPointSizeF(std::max(6.0, std::min(small.pointSizeF(), cell_size / 3)));
  p.setFont(small);
  for (int64_t t = 0; t < classes_; ++t) {
    for (int64_t c = 0; c < classes_; ++c) {
      const int64_t v = counts_[t * classes_ + c];
      const double share = row_sum[t] > 0 ? double(v) / row_sum[t] : 0;
      QColor fill = t == c ? QColor(44, 160, 44) : QColor(214, 39, 40);
      fill.setAlphaF(0.08 + 0.85 * share);
      QRectF cellr(origin.x() + c * cell_size, origin.y() + t * cell_size, cell_size, cell_size);
      p.fillRect(cellr, fill);
      p.setPen(palette().mid().color());
      p.drawRect(cellr);
      if (cell_size >= 18) {
        p.setPen(share > 0.6 ? Qt::white : palette().text().color());
        p.drawText(cellr, Qt::AlignCenter, QString::number(v));
      }
    }
    p.setPen(palette().text().color());
    if (classes_ <= 30) {
      p.drawText(QRectF(0, origin.y() + t * cell_size, label_w - 4, cell_size), Qt::AlignRight | Qt::AlignVCenter,
                 className(names_, t));
      p.drawText(QRectF(origin.x() + t * cell_size, origin.y() - 18, cell_size, 16), Qt::AlignCenter,
                 className(names_, t));
    }
  }
}

// --- SampleGridView ---

SampleGridView::SampleGridView(QWidget* parent) : QWidget(parent) { setMinimumSize(200, 180); }

void SampleGridView::setReport(const run::ValidationReport& r, const std::vector<std::string>& names,
                               const QString& caption) {
  samples_ = r.samples;
  names_ = names;
  caption_ = caption;
  images_ = !samples_.empty() && (samples_.front().shape.size() == 3 || samples_.front().shape.size() == 2);
  update();
}

void SampleGridView::clear() {
  samples_.clear();
  update();
}

namespace {

// A [C,H,W] or [H,W] sample as an image, scaled to its own min–max range.
QImage sampleImage(const run::ValidationReport::Sample& s) {
  const int channels = s.shape.size() == 3 ? static_cast<int>(s.shape[0]) : 1;
  const int h = static_cast<int>(s.shape[s.shape.size() - 2]), w = static_cast<int>(s.shape.back());
  float lo = INFINITY, hi = -INFINITY;
  for (float v : s.values)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
  QImage img(w, h, QImage::Format_RGB32);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      auto at = [&](int c) {
        float v = s.values[(size_t(c) * h + y) * w + x];
        return static_cast<int>(std::clamp((v - lo) * scale, 0.0f, 255.0f));
      };
      int r = at(0), g = channels >= 3 ? at(1) : r, b = channels >= 3 ? at(2) : r;
      img.setPixel(x, y, qRgb(r, g, b));
    }
  return img;
}

}  // namespace

void SampleGridView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  if (samples_.empty()) {
    drawEmpty(p, rect(), tr("Validation samples appear after the first validation pass (classification)."));
    return;
  }
  const auto& shape = samples_.front().shape;
  if (images_) {
    const int n = static_cast<int>(std::min<size_t>(samples_.size(), 32));
    const int cols = std::max(1, static_cast<int>(std::ceil(std::sqrt(n * double(width()) / std::max(1, height())))));
    const int rows = (n + cols - 1) / cols;
    const int label_h = fontMetrics().height() + 2;
    const int top = caption_.isEmpty() ? 0 : label_h + 2;
    if (top) p.drawText(QRect(0, 0, width(), label_h), Qt::AlignCenter, caption_);
    const double cw = double(width()) / cols, ch = double(height() - top) / rows;
    const double side = std::max(8.0, std::min(cw - 6, ch - label_h - 6));
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    for (int i = 0; i < n; ++i) {
      const auto& s = samples_[i];
      const double x = (i % cols) * cw + (cw - side) / 2, y = top + (i / cols) * ch + 2;
      p.drawImage(QRectF(x, y, side, side), sampleImage(s));
      const bool right = s.label == s.predicted;
      p.setPen(QPen(right ? QColor(44, 160, 44) : QColor(214, 39, 40), 2));
      p.drawRect(QRectF(x, y, side, side));
      QString text = right ? className(names_, s.predicted)
                           : tr("%1 (true %2)").arg(className(names_, s.predicted), className(names_, s.label));
      p.drawText(QRectF((i % cols) * cw, y + side + 1, cw, label_h), Qt::AlignCenter,
                 fontMetrics().elidedText(text, Qt::ElideRight, static_cast<int>(cw)));
    }
    return;
  }
  if (shape.size() == 1 && shape[0] == 2) {
    // Two features: a scatter, fill the predicted class, ring the true one.
    float x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const auto& s : samples_) {
      x0 = std::min(x0, s.values[0]);
      x1 = std::max(x1, s.values[0]);
      y0 = std::min(y0, s.values[1]);
      y1 = std::max(y1, s.values[1]);
    }
    // Equal scales on both axes: the classes' shapes are what the picture is for.
    const QRectF area = QRectF(rect()).adjusted(24, 26, -24, -12);
    const double span = std::max({x1 - x0, y1 - y0, 1e-6f});
    const double scale = std::min(area.width(), area.height()) / span;
    const QRectF plot(area.center().x() - (x1 - x0) * scale / 2, area.center().y() - (y1 - y0) * scale / 2,
                      (x1 - x0) * scale, (y1 - y0) * scale);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(palette().text().color());
    int wrong = 0;
    for (const auto& s : samples_) wrong += s.label != s.predicted;
    p.drawText(QRectF(0, 0, width(), 20), Qt::AlignCenter,
               caption_.isEmpty() ? tr("%1 validation samples, coloured by predicted class; %2 misclassified (red ring)")
                                        .arg(samples_.size())
                                        .arg(wrong)
                                  : caption_);
    for (const auto& s : samples_) {
      const double px = plot.left() + (s.values[0] - x0) * scale;
      const double py = plot.bottom() - (s.values[1] - y0) * scale;
      const bool right = s.label == s.predicted;
      p.setBrush(classColor(s.predicted));
      p.setPen(right ? QPen(classColor(s.predicted).darker(150), 1) : QPen(QColor(214, 39, 40), 2.5));
      p.drawEllipse(QPointF(px, py), right ? 3.5 : 6, right ? 3.5 : 6);
    }
    return;
  }
  QString dims;
  for (int64_t d : shape) dims += (dims.isEmpty() ? "" : "×") + QString::number(d);
  int right = 0;
  for (const auto& s : samples_) right += s.label == s.predicted;
  drawEmpty(p, rect(),
            tr("Samples are %1 values, not images: %2 of the first %3 validation samples are classified right.")
                .arg(dims)
                .arg(right)
                .arg(samples_.size()));
}

}  // namespace nl::app
