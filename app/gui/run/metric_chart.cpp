// A line chart of one metric over steps (see metric_chart.h).
#include "app/gui/run/metric_chart.h"

#include <QAreaSeries>
#include <QChart>
#include <QFontMetricsF>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLocale>
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
  // Labels in C notation with short exponents ("1e-4", not "1e-04"). Qt Charts formats
  // labels with the chart's locale only when it localizes numbers.
  QLocale numbers = QLocale::c();
  numbers.setNumberOptions(QLocale::OmitGroupSeparator | QLocale::OmitLeadingZeroInExponent);
  chart->setLocale(numbers);
  chart->setLocalizeNumbers(true);
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
    y_ = new QValueAxis;  // label format set with the ticks (rescale)
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
  // Ticks are sized to the plot area, which can change when the chart lays itself out after a
  // rescale (a legend shown or hidden, wider labels): too many ticks for the plot drawn are
  // elided to "...", so the axes are sized again. The plot's height does not depend on the
  // ticks, so this settles; queued, since the layout is still running when it signals.
  connect(
      chart, &QChart::plotAreaChanged, this,
      [this](const QRectF& area) {
        if (std::abs(area.width() - scaled_for_.width()) >= 1 || std::abs(area.height() - scaled_for_.height()) >= 1)
          rescale();
      },
      Qt::QueuedConnection);
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

// Qt Charts gives each value-axis label the axis's height divided by the tick count, less 4 px
// of padding above and below, and elides a label that does not fit. The axis reaches below the
// plot at least as far as the step labels, so ticks a label's height + 10 px apart on the plot
// always fit. Step labels are wider: ~80 px apart.
constexpr double kLabelPadding = 2 * 4 + 2;
constexpr double kStepLabelGap = 80;

// Ticks that fit `pixels` with `min_gap` between them (two at least, 40 at most).
int maxTicks(double pixels, double min_gap) {
  const double gaps = pixels / min_gap;
  return gaps >= 1 ? static_cast<int>(std::min(gaps, 39.0)) + 1 : 2;
}

int exponentOf(double x) { return static_cast<int>(std::floor(std::log10(x) + 1e-9)); }

// The largest of 1, 2 or 5 × 10^k not above x, and the next one up from a step.
double niceAtOrBelow(double x) {
  const double mag = std::pow(10.0, exponentOf(x));
  const double f = x / mag;
  return (f >= 5 - 1e-9 ? 5 : f >= 2 - 1e-9 ? 2 : 1) * mag;
}
double niceAbove(double step) {
  const double mag = std::pow(10.0, exponentOf(step));
  const double f = std::round(step / mag);
  return (f < 2 ? 2 : f < 5 ? 5 : 10) * mag;
}

// One notation for all of an axis's labels, with as many digits as the step needs: fixed
// from 0.001 to 10^5 ("0.008", "0.010"); scientific below ("9.50e-5", "1.00e-4", where %.3g
// printed "9.5e-05", "0.0001", "0.000105"); %g above, which is scientific there too and
// prints zero as "0" ("0", "2e+5", "4e+5").
QString labelFormat(double lo, double hi, double step) {
  const double top = std::max(std::abs(lo), std::abs(hi));
  const int step_exp = exponentOf(step);
  const int top_exp = top > 0 ? std::max(exponentOf(top), step_exp) : step_exp;
  if (top_exp >= 5) return QString("%.%1g").arg(top_exp - step_exp + 1);
  if (top_exp >= -3) return QString("%.%1f").arg(std::max(0, -step_exp));
  return QString("%.%1e").arg(top_exp - step_exp);
}

// Sets a range and its ticks. (Fixed ticks, not QValueAxis::TicksDynamic: a small interval
// left over a range grown by a diverging run laid out millions of ticks and hung the window.)
void apply(QValueAxis* axis, const AxisTicks& t) {
  axis->setRange(t.lo, t.hi);
  axis->setTickCount(t.count);
  axis->setLabelFormat(t.format);
}

}  // namespace

AxisTicks roundTicks(double lo, double hi, double pixels, double min_gap, double min_step) {
  AxisTicks t;
  if (!(hi > lo) || !std::isfinite(hi - lo)) {
    t.lo = lo;
    t.hi = hi;
    t.step = hi - lo;
    t.format = "%.3g";
    return t;
  }
  // The densest round step whose widened range still has its ticks min_gap apart: widening
  // can add a tick at either end, so the step is checked after it, not guessed before.
  const int max_ticks = maxTicks(pixels, min_gap);
  double step = std::max(niceAtOrBelow((hi - lo) / (max_ticks - 1)), min_step);
  for (int tries = 0; tries < 64; ++tries) {
    t.step = step;
    t.lo = std::floor(lo / step + 1e-9) * step;
    t.hi = std::ceil(hi / step - 1e-9) * step;
    t.count = static_cast<int>(std::lround((t.hi - t.lo) / step)) + 1;
    if (t.count <= max_ticks) break;  // a range across zero may never get down to two ticks
    step = niceAbove(step);
  }
  t.format = labelFormat(t.lo, t.hi, t.step);
  return t;
}

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
  scaled_for_ = area.size();
  const double gap = QFontMetricsF(y_->labelsFont()).height() + kLabelPadding;
  const bool empty = !std::isfinite(x0);
  if (empty) {
    x0 = 0;
    x1 = 1;
    y0 = log_y_ ? 1e-3 : 0;
    y1 = 1;
  }
  // Steps are whole numbers: no step between ticks below 1 (0, 0, 0, 1, 1, 1 on an empty chart).
  apply(x_, roundTicks(std::min(x0, 0.0), x1 > x0 ? x1 : x0 + 1, area.width(), kStepLabelGap, 1));
  if (log_y_) {
    if (!fixed_y_) setLogRange(y0, y1, area.height(), gap);
    return;
  }
  auto* y = static_cast<QValueAxis*>(y_);
  if (fixed_y_) {
    apply(y, roundTicks(fixed_lo_, fixed_hi_, area.height(), gap));
    return;
  }
  // A flat series (a constant rate; a smoothed constant, which differs from itself in its last
  // bits) gets a band of ±5 % around it rather than ticks a rounding error apart.
  double pad = (y1 - y0) * 0.05;
  if (!(y1 - y0 > 1e-9 * std::max(std::abs(y0), std::abs(y1)))) pad = std::max(std::abs(y1) * 0.05, 1e-6);
  // Losses, rates and throughputs are never negative: no axis below zero for them.
  const double lo = y0 >= 0 ? std::max(0.0, y0 - pad) : y0 - pad;
  apply(y, roundTicks(lo, y1 + pad, area.height(), gap));
}

void MetricChart::setLogRange(double lo, double hi, double pixels, double min_gap) {
  // Whole decades; Qt Charts labels the powers of the axis's base inside the range, so a base
  // of 10^k labels every k-th decade: the smallest k whose labels fit min_gap apart.
  const int e0 = static_cast<int>(std::floor(std::log10(std::max(lo, 1e-30)) + 1e-9));
  const int e1 = std::max(e0 + 1, static_cast<int>(std::ceil(std::log10(std::max(hi, 1e-30)) - 1e-9)));
  const int max_ticks = maxTicks(pixels, min_gap);
  int k = 1;
  while (static_cast<int>(std::floor(e1 / double(k)) - std::ceil(e0 / double(k))) + 1 > max_ticks) ++k;
  auto* axis = static_cast<QLogValueAxis*>(y_);
  axis->setBase(std::pow(10.0, k));
  // Rounding in Qt's logarithm drops a power that is exactly the range's end (the lowest
  // decade went unlabelled): the range reaches a hair past both.
  axis->setRange(std::pow(10.0, e0) * (1 - 1e-9), std::pow(10.0, e1) * (1 + 1e-9));
}

}  // namespace nl::app
