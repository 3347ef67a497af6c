// The value axes of the training charts, read as a user reads them: the labels a chart draws
// (the learning rate's, at the dashboard's size in the default window, for large and small
// rates; the other charts'; the Layers tab's logarithmic ones) are never elided to "...",
// repeated, or in mixed notation; and the round ticks behind them fit their axis.
#include <QApplication>
#include <QFontMetricsF>
#include <QGraphicsScene>
#include <QGraphicsTextItem>
#include <QRegularExpression>
#include <QTabWidget>
#include <QTest>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

#include "app/gui/run/dashboard_widget.h"
#include "app/gui/run/metric_chart.h"
#include "gui_test_main.h"

using namespace nl;

namespace {

// The value-axis labels a chart shows, bottom to top: the visible text items left of its plot
// area (the chart's title is above it, the step labels below it), once it has laid itself out
// (a plot area changed by the layout sizes the ticks again, which lays it out again).
QStringList yAxisLabels(app::MetricChart* chart) {
  for (int i = 0; i < 3; ++i) QApplication::processEvents();
  const QRectF plot = chart->chart()->plotArea();
  QList<QGraphicsTextItem*> items;
  for (QGraphicsItem* item : chart->scene()->items())
    if (auto* text = dynamic_cast<QGraphicsTextItem*>(item); text && text->isVisible()) {
      const QRectF r = text->sceneBoundingRect();
      if (r.right() <= plot.left() + 1 && r.bottom() > plot.top() - r.height() && r.top() < plot.bottom() + r.height())
        items.push_back(text);
    }
  std::sort(items.begin(), items.end(),
            [](QGraphicsTextItem* a, QGraphicsTextItem* b) { return a->scenePos().y() > b->scenePos().y(); });
  QStringList out;
  for (QGraphicsTextItem* t : items) out << t->toPlainText();
  return out;
}

// Learning rates over `steps` steps: from `from` to `to` along a half cosine.
std::vector<run::StepMetrics> cosineRates(double from, double to, int steps) {
  std::vector<run::StepMetrics> out;
  for (int i = 0; i < steps; ++i) {
    run::StepMetrics m;
    m.global_step = i + 1;
    m.batches_per_epoch = 25;
    m.epoch = i / 25;
    m.batch = i % 25;
    m.loss = 0.7;
    m.accuracy = 0.5;
    m.samples_per_second = 3e5;
    m.learning_rate = to + (from - to) * 0.5 * (1 + std::cos(M_PI * i / steps));
    out.push_back(m);
  }
  return out;
}

// Labels a user can read: none elided ("..."), each a number, no two alike, all in one
// notation (fixed or scientific, not "5e-05" beside "0.0001").
QString unreadable(const QStringList& labels) {
  if (labels.size() < 2) return QString("fewer than two labels: %1").arg(labels.join(' '));
  static const QRegularExpression fixed("^-?\\d+(\\.\\d+)?$"), scientific("^-?\\d(\\.\\d+)?e[-+]\\d+$");
  int fixed_count = 0, scientific_count = 0;
  for (const QString& l : labels) {
    if (l.contains("...") || l.contains(QChar(0x2026))) return QString("elided: %1").arg(labels.join(' '));
    if (fixed.match(l).hasMatch()) ++fixed_count;
    else if (scientific.match(l).hasMatch()) ++scientific_count;
    else return QString("not a number: '%1' in %2").arg(l, labels.join(' '));
    if (labels.count(l) > 1) return QString("repeated: %1").arg(labels.join(' '));
  }
  // A lone "0" may stand beside scientific labels.
  if (fixed_count && scientific_count && !(fixed_count == 1 && labels.contains("0")))
    return QString("mixed notation: %1").arg(labels.join(' '));
  return {};
}

}  // namespace

class TestChartAxes : public QObject {
  Q_OBJECT

 private slots:
  // The dashboard at its size in the default window (the bottom dock at half of 1600×900):
  // the learning-rate axis shows readable numbers for large and small rates, mid-run and
  // at the end, and so do the other charts beside it and on the Layers tab.
  void learningRateAxisLabelsAreReadable() {
    app::DashboardWidget d;
    d.resize(1600, 420);
    d.show();
    QVERIFY(QTest::qWaitForWindowExposed(&d));
    struct Case {
      double from, to;
      int steps, shown;  // a cosine schedule over `steps`, the first `shown` of them drawn
    };
    for (const Case& c : {Case{1e-2, 0, 1000, 300}, Case{1e-2, 0, 1000, 1000}, Case{1e-3, 1e-4, 1000, 1000},
                          Case{1e-4, 1e-4, 200, 200}, Case{3e-4, 3e-4, 200, 200}, Case{1e-4, 0, 1000, 1000},
                          Case{1e-4, 1e-6, 1000, 400}, Case{2e-5, 2e-5, 100, 100}, Case{0.1, 0.05, 1000, 200}}) {
      d.beginRun(40, c.steps);
      app::RunEvents events;
      events.steps = cosineRates(c.from, c.to, c.steps);
      events.steps.resize(c.shown);
      d.addEvents(events);
      d.redraw();
      const QString what = QString("lr %1 → %2, %3 of %4 steps").arg(c.from).arg(c.to).arg(c.shown).arg(c.steps);
      QVERIFY2(d.learningRateChart()->height() < 150, qPrintable(what));  // the short row: the hard case
      const QStringList lr = yAxisLabels(d.learningRateChart());
      const QString problem = unreadable(lr);
      QVERIFY2(problem.isEmpty(), qPrintable(what + ": " + problem));
      for (app::MetricChart* chart : {d.lossChart(), d.accuracyChart(), d.throughputChart()}) {
        const QString other = unreadable(yAxisLabels(chart));
        QVERIFY2(other.isEmpty(), qPrintable(chart->chart()->title() + ": " + other));
      }
    }
    // The Layers tab's logarithmic axes: gradient norms falling over six decades (the labels of
    // every decade were elided), and over two (whose lowest decade went unlabelled).
    d.tabs()->setCurrentIndex(1);
    for (double low : {1e-6, 1e-2}) {
      d.beginRun(40, 1000);
      app::RunEvents events;
      for (int i = 1; i <= 100; ++i) {
        run::LayerStatisticsEvent e;
        e.global_step = i * 10;
        e.total_gradient_norm = std::pow(10.0, std::log10(low) * i / 100.0);
        run::LayerStatistics l;
        l.name = "fc1";
        l.gradient_norm = e.total_gradient_norm / 2;
        e.layers.push_back(l);
        events.layers.push_back(e);
      }
      d.addEvents(events);
      d.redraw();
      int checked = 0;
      for (app::MetricChart* chart : d.findChildren<app::MetricChart*>()) {
        if (!chart->isVisible()) continue;
        ++checked;
        const QStringList labels = yAxisLabels(chart);
        const QString problem = unreadable(labels);
        QVERIFY2(problem.isEmpty(), qPrintable(chart->chart()->title() + ": " + problem));
        if (low == 1e-2 && chart->chart()->title() == "Total gradient norm")
          QCOMPARE(labels, (QStringList{"1e-2", "1e-1", "1e+0"}));
      }
      QCOMPARE(checked, 2);  // per-layer and total norms
    }
  }

  // Small rates read in compact scientific notation with as many digits as the ticks need;
  // a taller chart gets more ticks, still unelided.
  void smallRatesReadCompactly() {
    app::MetricChart chart("Learning rate", "lr");
    chart.resize(700, 126);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    chart.setSeries("lr", {{0, 1e-4}, {200, 1e-4}}, Qt::green);
    chart.rescale();
    QCOMPARE(yAxisLabels(&chart), (QStringList{"9.50e-5", "1.00e-4", "1.05e-4"}));
    chart.setSeries("lr", {{0, 3e-4}, {200, 0}}, Qt::green);
    chart.rescale();
    QCOMPARE(yAxisLabels(&chart), (QStringList{"0e+0", "2e-4", "4e-4"}));
    // Shrunk after it was drawn tall: the ticks follow the new height.
    chart.resize(700, 400);
    QApplication::processEvents();
    QVERIFY(yAxisLabels(&chart).size() > 4);
    chart.resize(700, 126);
    QString problem = unreadable(yAxisLabels(&chart));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    // A second curve brings the legend, which takes room from the plot when the chart lays
    // itself out, after the rescale: the ticks follow.
    chart.setSeries("overlay", {{0, 2e-4}, {200, 1e-4}}, Qt::blue);
    chart.rescale();
    problem = unreadable(yAxisLabels(&chart));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    auto* y = qobject_cast<QValueAxis*>(chart.chart()->axes(Qt::Vertical).value(0));
    const double gap = QFontMetricsF(y->labelsFont()).height();
    QVERIFY2((y->tickCount() - 1) * gap < chart.chart()->plotArea().height(),
             qPrintable(QString("%1 ticks on %2 px").arg(y->tickCount()).arg(chart.chart()->plotArea().height())));
  }

  // Round ticks over ranges from 1e-9 to 1e9 wide on axes 20 to 800 px long: the range is
  // covered, the ticks fit (widening the range to round values adds ticks: they are counted),
  // and every label differs from the others.
  void roundTicksFitTheirAxis() {
    int cases = 0;
    for (double scale = 1e-9; scale <= 1e9; scale *= 7.3)
      for (double lo : {0.0, 0.37, 0.95, 3.1})
        for (double width : {0.004, 0.09, 1.0, 2.6})
          for (double pixels : {20.0, 55.5, 130.0, 800.0}) {
            const double a = lo * scale, b = (lo + width) * scale;
            const app::AxisTicks t = app::roundTicks(a, b, pixels, 23);
            const QString what = QString("[%1, %2] on %3 px: [%4, %5] step %6, %7 ticks, %8")
                                     .arg(a).arg(b).arg(pixels).arg(t.lo).arg(t.hi).arg(t.step).arg(t.count).arg(t.format);
            QVERIFY2(t.lo <= a + 1e-6 * t.step && t.hi >= b - 1e-6 * t.step, qPrintable(what));
            QVERIFY2(t.count >= 2 && (t.count <= 2 || (t.count - 1) * 23 <= pixels), qPrintable(what));
            QStringList labels;
            for (int i = 0; i < t.count; ++i)
              labels << QString::asprintf(t.format.toLatin1().constData(), t.lo + i * (t.hi - t.lo) / (t.count - 1));
            QVERIFY2(labels.removeDuplicates() == 0, qPrintable(what + ": " + labels.join(' ')));
            ++cases;
          }
    QVERIFY(cases > 1000);
  }
};

NETLOOM_GUI_TEST_MAIN(TestChartAxes)
#include "test_chart_axes.moc"
