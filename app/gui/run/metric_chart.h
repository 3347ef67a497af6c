// A Qt Charts view for one metric over training steps: several named line series (train,
// validation, overlaid runs), optionally a min/max envelope band under a series, a linear or
// logarithmic value axis, and axes that follow the data.
#pragma once
#include <QChartView>
#include <QColor>
#include <QList>
#include <QPointF>
#include <map>

class QAreaSeries;
class QLineSeries;
class QValueAxis;
class QLogValueAxis;
class QAbstractAxis;

namespace nl::app {

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
  QLineSeries* lineFor(const QString& name, const QColor& color, bool dashed, qreal width);
  std::map<QString, QLineSeries*> lines_;
  std::map<QString, QAreaSeries*> bands_;
  QValueAxis* x_;
  QAbstractAxis* y_;
  bool log_y_;
  bool fixed_y_ = false;
  double fixed_lo_ = 0, fixed_hi_ = 1;
};

}  // namespace nl::app
