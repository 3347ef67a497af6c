// A Qt Charts view for one metric over training steps: several named line series (train,
// validation, overlaid runs), optionally a min/max envelope band under a series, a linear or
// logarithmic value axis, and axes that follow the data.
#pragma once
#include <QChartView>
#include <QColor>
#include <QList>
#include <QPointF>
#include <QString>
#include <map>

class QAreaSeries;
class QLineSeries;
class QValueAxis;
class QLogValueAxis;
class QAbstractAxis;

namespace nl::app {

// Ticks for a linear axis over [lo, hi] drawn `pixels` long: a step of 1, 2 or 5 × 10^k (at
// least `min_step`), the range widened to multiples of it, as many ticks as fit `min_gap`
// pixels apart (a Qt Charts axis elides every label to "..." when they are closer than a
// label's height), and a printf-style label format that shows every tick distinctly in one
// notation: fixed for magnitudes from 0.001 to 10^5, scientific outside it.
struct AxisTicks {
  double lo = 0, hi = 1, step = 1;
  int count = 2;
  QString format = QStringLiteral("%.0f");
};
AxisTicks roundTicks(double lo, double hi, double pixels, double min_gap, double min_step = 0);

class MetricChart : public QChartView {
  Q_OBJECT

 public:
  MetricChart(const QString& title, const QString& y_label, bool log_y = false, QWidget* parent = nullptr);

  // Replaces a series' points (creates it on first use). Non-finite y values (and, on a log
  // axis, values ≤ 0) are left out.
  void setSeries(const QString& name, const QList<QPointF>& points, const QColor& color, bool dashed = false,
                 qreal width = 2.0);
  // A translucent band between lower and upper (same x), drawn under the lines.
  void setEnvelope(const QString& name, const QList<QPointF>& lower, const QList<QPointF>& upper, const QColor& color);
  void removeSeries(const QString& name);
  void removeSeriesExcept(const QStringList& keep);
  void clearAll();
  int pointCount(const QString& name) const;
  QStringList seriesNames() const;
  // Fits the axes to all series.
  void rescale();
  void setYRange(double lo, double hi);  // fixed range (accuracy: 0–1); rescale keeps it

 protected:
  void resizeEvent(QResizeEvent* event) override;
  void changeEvent(QEvent* event) override;

 private:
  void applyPalette();
  void setLogRange(double lo, double hi, double pixels, double min_gap);
  QLineSeries* lineFor(const QString& name, const QColor& color, bool dashed, qreal width);
  std::map<QString, QLineSeries*> lines_;
  std::map<QString, QAreaSeries*> bands_;
  QValueAxis* x_;
  QAbstractAxis* y_;
  bool log_y_;
  bool fixed_y_ = false;
  double fixed_lo_ = 0, fixed_hi_ = 1;
  QSizeF scaled_for_;  // the plot area's size at the last rescale
};

}  // namespace nl::app
