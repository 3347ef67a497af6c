// A line chart of one metric over steps (see metric_chart.h).
#include "app/gui/run/metric_chart.h"

#include <QAreaSeries>
#include <QChart>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QPen>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

namespace nl::app {

MetricChart::MetricChart(const QString& title, const QString& y_label, bool log_y, QWidget* parent)
    : QChartView(parent), log_y_(log_y) {
  auto* chart = new QChart;
  chart->setTitle(title);
  chart->setMargins(QMargins(4, 4, 4, 4));
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->legend()->setFont(QFont(font().family(), 8));
  chart->setAnimationOptions(QChart::NoAnimation);
  x_ = new QValueAxis;
  x_->setTitleText(tr("step"));
  x_->setTitleVisible(false);  // every chart's x axis is the step; the room goes to the plot
  x_->setLabelFormat("%.0f");
  x_->setLabelsFont(QFont(font().family(), 8));
  x_->setTitleFont(QFont(font().family(), 8));
  chart->addAxis(x_, Qt::AlignBottom);
  if (log_y) {
    auto* y = new QLogValueAxis;
    y->setLabelFormat("%.0e");
    y->setBase(10);
    y_ = y;
  } else {
    auto* y = new QValueAxis;
    y->setLabelFormat("%.3g");
    y_ = y;
  }
  y_->setTitleText(y_label);
  y_->setTitleVisible(false);  // the chart's title names the metric
  y_->setLabelsFont(QFont(font().family(), 8));
  y_->setTitleFont(QFont(font().family(), 8));
  chart->addAxis(y_, Qt::AlignLeft);
  setChart(chart);
  applyPalette();
  setRenderHint(QPainter::Antialiasing);
  setMinimumSize(200, 110);  // small enough that the bottom dock can stay short
}

QLineSeries* MetricChart::lineFor(const QString& name, const QColor& color, bool dashed, qreal width) {
  auto it = lines_.find(name);
  if (it != lines_.end()) return it->second;
  auto* s = new QLineSeries;
  s->setName(name);
  QPen pen(color, width);
  if (dashed) pen.setStyle(Qt::DashLine);
  s->setPen(pen);
  chart()->addSeries(s);
  s->attachAxis(x_);
  s->attachAxis(y_);
  lines_[name] = s;
  return s;
}

void MetricChart::setSeries(const QString& name, const QList<QPointF>& points, const QColor& color, bool dashed,
                            qreal width) {
  QList<QPointF> kept;
  kept.reserve(points.size());
  for (const QPointF& p : points)
    if (std::isfinite(p.y()) && std::isfinite(p.x()) && (!log_y_ || p.y() > 0)) kept.push_back(p);
  lineFor(name, color, dashed, width)->replace(kept);
  // One curve needs no legend; the room goes to the plot.
  chart()->legend()->setVisible(lines_.size() > 1);
}

void MetricChart::setEnvelope(const QString& name, const QList<QPointF>& lower, const QList<QPointF>& upper,
                              const QColor& color) {
  auto it = bands_.find(name);
  QAreaSeries* band;
  if (it == bands_.end()) {
    band = new QAreaSeries(new QLineSeries(this), new QLineSeries(this));
    band->setName(name);
    QColor fill = color;
    fill.setAlpha(50);
    band->setBrush(fill);
    band->setPen(Qt::NoPen);
    chart()->addSeries(band);
    band->attachAxis(x_);
    band->attachAxis(y_);
    bands_[name] = band;
    // The band is decoration: keep it out of the legend.
    for (auto* marker : chart()->legend()->markers(band)) marker->setVisible(false);
  } else {
    band = it->second;
  }
  band->lowerSeries()->replace(lower);
  band->upperSeries()->replace(upper);
}

void MetricChart::removeSeries(const QString& name) {
  if (auto it = lines_.find(name); it != lines_.end()) {
    chart()->removeSeries(it->second);
    delete it->second;
    lines_.erase(it);
  }
  if (auto it = bands_.find(name); it != bands_.end()) {
    chart()->removeSeries(it->second);
    delete it->second;
    bands_.erase(it);
  }
}

void MetricChart::removeSeriesExcept(const QStringList& keep) {
  QStringList names = seriesNames();
  for (auto& [n, b] : bands_)
    if (!names.contains(n)) names.push_back(n);
  for (const QString& n : names)
    if (!keep.contains(n)) removeSeries(n);
}

void MetricChart::clearAll() { removeSeriesExcept({}); }

int MetricChart::pointCount(const QString& name) const {
  auto it = lines_.find(name);
  return it == lines_.end() ? 0 : it->second->count();
}

QStringList MetricChart::seriesNames() const {
  QStringList out;
  for (const auto& [n, s] : lines_) out.push_back(n);
  return out;
}

namespace {

// 1, 2 or 5 times a power of ten, near range / ticks.
double niceStep(double range, int ticks) {
  const double raw = range / std::max(1, ticks);
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

// Sets the range, widened to round values, with fixed ticks at round steps: as many as the
// axis has room for (labels ~35 px apart vertically, ~90 px horizontally), so a short chart
// never elides its labels. (Not QValueAxis::TicksDynamic: a chart re-ranges its axes itself
// when a series is replaced, and a small interval left over a large range lays out millions
// of ticks.)
void setRangeWithRoundTicks(QValueAxis* axis, double lo, double hi, double pixels, double spacing) {
  if (!(hi > lo) || !std::isfinite(hi - lo)) {
    axis->setRange(lo, hi);
    return;
  }
  const double step = niceStep(hi - lo, std::max(2, static_cast<int>(pixels / spacing)));
  const double a = std::floor(lo / step + 1e-9) * step, b = std::ceil(hi / step - 1e-9) * step;
  const int ticks = static_cast<int>(std::lround((b - a) / step)) + 1;
  axis->setRange(a, b);
  axis->setTickCount(std::clamp(ticks, 2, 40));
}

}  // namespace

void MetricChart::applyPalette() {
  // The chart follows the application's theme (light or dark) rather than Qt Charts' own.
  const QPalette pal = palette();
  chart()->setBackgroundBrush(pal.base());
  chart()->setBackgroundPen(Qt::NoPen);
  chart()->setTitleBrush(pal.text());
  chart()->legend()->setLabelColor(pal.text().color());
  QColor grid = pal.text().color();
  grid.setAlpha(40);
  for (QAbstractAxis* axis : {static_cast<QAbstractAxis*>(x_), y_}) {
    axis->setLabelsColor(pal.text().color());
    axis->setTitleBrush(pal.text());
    axis->setGridLineColor(grid);
    axis->setLinePenColor(pal.mid().color());
  }
  setBackgroundBrush(pal.window());
}

void MetricChart::changeEvent(QEvent* event) {
  QChartView::changeEvent(event);
  if (event->type() == QEvent::PaletteChange) applyPalette();
}

void MetricChart::resizeEvent(QResizeEvent* event) {
  QChartView::resizeEvent(event);
  rescale();
}

void MetricChart::setYRange(double lo, double hi) {
  fixed_y_ = true;
  fixed_lo_ = lo;
  fixed_hi_ = hi;
  y_->setRange(lo, hi);
}

void MetricChart::rescale() {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto take = [&](const QList<QPointF>& pts) {
    for (const QPointF& p : pts) {
      x0 = std::min(x0, p.x());
      x1 = std::max(x1, p.x());
      y0 = std::min(y0, p.y());
      y1 = std::max(y1, p.y());
    }
  };
  for (const auto& [n, s] : lines_) take(s->points());
  for (const auto& [n, b] : bands_) {
    take(b->lowerSeries()->points());
    take(b->upperSeries()->points());
  }
  const QRectF area = chart()->plotArea();
  const bool empty = !std::isfinite(x0);
  if (empty) {
    x0 = 0;
    x1 = 1;
    y0 = log_y_ ? 1e-3 : 0;
    y1 = 1;
  }
  setRangeWithRoundTicks(x_, std::min(x0, 0.0), x1 > x0 ? x1 : x0 + 1, area.width(), 90);
  if (fixed_y_) {
    if (!log_y_) setRangeWithRoundTicks(static_cast<QValueAxis*>(y_), fixed_lo_, fixed_hi_, area.height(), 35);
    return;
  }
  if (log_y_) {
    double lo = std::pow(10, std::floor(std::log10(std::max(y0, 1e-30))));
    double hi = std::pow(10, std::ceil(std::log10(std::max(y1, lo * 10))));
    if (hi <= lo) hi = lo * 10;
    y_->setRange(lo, hi);
    return;
  }
  double pad = (y1 - y0) * 0.05;
  if (pad <= 0) pad = std::max(std::abs(y1) * 0.05, 1e-6);
  // Losses, rates and throughputs are never negative: no axis below zero for them.
  const double lo = y0 >= 0 ? std::max(0.0, y0 - pad) : y0 - pad;
  setRangeWithRoundTicks(static_cast<QValueAxis*>(y_), lo, y1 + pad, area.height(), 35);
}

}  // namespace nl::app
