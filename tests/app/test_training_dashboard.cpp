// Training from the main window, offscreen, as a user does it: the spirals example trained
// with F5, stopped with Shift+F5, paused and resumed with F6, a run that diverges, a saved
// checkpoint resumed; the dashboard's charts, final accuracy, confusion matrix, run history,
// overlays and exports; event coalescing under a flood of 10,000 steps.
#include <QAction>
#include <QCheckBox>
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QComboBox>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTest>
#include <QTabBar>
#include <QTabWidget>
#include <QTimer>
#include <QValueAxis>
#include <atomic>
#include <chrono>
#include <thread>

#include "app/gui/main_window.h"
#include "app/gui/run/dashboard_widget.h"
#include "app/gui/run/gradient_sparkline.h"
#include "app/gui/run/metric_chart.h"
#include "app/gui/run/run_views.h"
#include "app/gui/run/train_settings_widget.h"
#include "app/gui/run/training_ui.h"
#include "editor/canvas/graph_scene.h"
#include "editor/canvas/node_item.h"
#include "editor/graph_document.h"
#include "engine/project/project.h"

using namespace nl;
using nl::app::MainWindow;

namespace {

const QString kSpirals = QStringLiteral(NETLOOM_EXAMPLES_DIR "/spirals_mlp.netloom");

// Types into a line edit or spin box as a user does: select all, the text, Enter.
void retype(QWidget* w, const QString& text) {
  w->setFocus();
  QTest::keyClick(w, Qt::Key_A, Qt::ControlModifier);
  QTest::keyClicks(w, text);
  QTest::keyClick(w, Qt::Key_Return);
}

// A copy of the spirals example in `dir` (runs are kept beside the project).
QString spiralsCopy(const QTemporaryDir& dir) {
  QString path = dir.filePath("spirals_mlp.netloom");
  project::Project p = project::load_project(kSpirals.toStdString());
  project::save_project(p, path.toStdString());
  return path;
}

bool waitFinished(app::TrainingUi* t, int ms) {
  if (t->controller()->state() == app::RunController::State::Finished) return true;
  QSignalSpy spy(t->controller(), &app::RunController::finished);
  return spy.wait(ms);
}


}  // namespace

// A shown, active main window (so F5, F6 and Shift+F5 reach its actions) with a copy of the
// spirals example open from a scratch folder.
struct SpiralsWindow {
  QTemporaryDir dir;
  MainWindow window;
  bool ready = false;
  SpiralsWindow() {
    window.show();
    QApplication::setActiveWindow(&window);
    ready = QTest::qWaitForWindowActive(&window) && window.openProject(spiralsCopy(dir));
  }
};

class TestTrainingDashboard : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void spiralsRunFromTheWindow() {
    SpiralsWindow s;
    QVERIFY(s.ready);
    MainWindow& w = s.window;
    app::TrainingUi* t = w.training();
    QVERIFY(t);
    QCOMPARE(t->settingsWidget()->settings().dataset.kind, std::string("spirals"));
    // Fewer epochs, typed into the Train Settings dock.
    retype(t->settingsWidget()->epochsSpin(), "4");
    QCOMPARE(t->settingsWidget()->settings().epochs, int64_t{4});
    QCOMPARE(w.session().training.epochs, int64_t{4});
    // A settings edit marks the project modified and is undone like any edit.
    QVERIFY(w.windowTitle().contains("* — Netloom"));
    retype(t->settingsWidget()->batchSizeSpin(), "16");
    QCOMPARE(w.session().training.batch_size, int64_t{16});
    w.document().undoStack()->undo();  // both edits were one step
    QCOMPARE(w.session().training.batch_size, int64_t{32});
    QCOMPARE(w.session().training.epochs, int64_t{60});
    QCOMPARE(t->settingsWidget()->epochsSpin()->value(), 60);
    QVERIFY(!w.windowTitle().contains('*'));
    w.document().undoStack()->redo();
    QCOMPARE(w.session().training.epochs, int64_t{4});
    QCOMPARE(t->settingsWidget()->batchSizeSpin()->value(), 16);
    retype(t->settingsWidget()->batchSizeSpin(), "32");
    // Preview the data: the first training samples with their labels.
    QSignalSpy previewed(t->settingsWidget(), &app::TrainSettingsWidget::previewReady);
    QTest::mouseClick(t->settingsWidget()->previewButton(), Qt::LeftButton);
    QVERIFY(previewed.wait(30000));
    QCOMPARE(t->settingsWidget()->previewLabel()->text(), QString("800 training and 200 validation samples of 2, 2 classes"));
    QCOMPARE(t->settingsWidget()->previewView()->sampleCount(), 400);

    // The UI thread's latency while training: a 5 ms probe timer, how late does it run?
    QElapsedTimer clock;
    qint64 last = -1, worst = 0;
    QTimer probe;
    probe.setInterval(5);
    QObject::connect(&probe, &QTimer::timeout, [&] {
      const qint64 now = clock.elapsed();
      if (last >= 0) worst = std::max(worst, now - last);
      last = now;
    });
    QSignalSpy finished(t->controller(), &app::RunController::finished);
    clock.start();
    probe.start();
    QTest::keyClick(&w, Qt::Key_F5);
    QVERIFY(t->controller()->isActive());
    QVERIFY(!t->startAction()->isEnabled());
    QVERIFY(finished.wait(120000));
    probe.stop();
    qInfo("worst UI latency while training: %lld ms", worst);
    QVERIFY2(worst < 250, qPrintable(QString("worst probe gap %1 ms").arg(worst)));
    const run::RunResult& r = t->controller()->result();
    QCOMPARE(r.status, run::RunStatus::Completed);
    QCOMPARE(r.epochs_completed, int64_t{4});

    app::DashboardWidget* d = t->dashboard();
    d->redraw();
    QCOMPARE(d->statusLabel()->text(), QString("completed"));
    // 800 training samples in batches of 32: 25 steps an epoch.
    QCOMPARE(d->metrics().steps.size(), size_t{100});
    QVERIFY(d->lossChart()->pointCount("train") > 10);
    QCOMPARE(d->lossChart()->pointCount("validation (epoch)"), 4);
    QCOMPARE(d->accuracyChart()->pointCount("train (epoch)"), 4);
    QVERIFY(d->learningRateChart()->pointCount("learning rate") > 10);
    QVERIFY(d->throughputChart()->pointCount("samples/s") > 10);
    QVERIFY(d->finalAccuracyLabel()->text().startsWith("Final accuracy: "));
    QVERIFY(d->finalAccuracyLabel()->text().contains(
        QString::number(100 * r.last_epoch.val_accuracy, 'f', 1) + "% (val)"));
    // It learns: the epochs' training loss goes down.
    QVERIFY(d->metrics().epochs.back().train_loss < d->metrics().epochs.front().train_loss);

    // Layers: fc1, fc2, fc3 have parameters; norms every 10 steps and at each epoch's end.
    QCOMPARE(d->metrics().layer_order, (std::vector<std::string>{"fc1", "fc2", "fc3"}));
    QCOMPARE(d->layerNormChart()->pointCount("fc1"), 0);  // its tab is not shown yet
    QTest::mouseClick(d->tabs()->tabBar(), Qt::LeftButton, {}, d->tabs()->tabBar()->tabRect(1).center());
    QCOMPARE(d->tabs()->currentIndex(), 1);
    QVERIFY(d->layerNormChart()->pointCount("fc1") >= 10);
    QVERIFY(d->weightDistribution()->snapshotCount() >= 10);
    // The canvas shows each layer's gradient norms under its node.
    editor::NodeItem* fc2 = w.scene()->nodeItem(w.document().graph().find_by_name("fc2")->id);
    app::GradientSparkline* spark = app::GradientSparkline::of(fc2, false);
    QVERIFY(spark);
    QCOMPARE(spark->norms().back(), d->metrics().layers.at("fc2").gradient_norms.back());

    QTest::mouseClick(d->tabs()->tabBar(), Qt::LeftButton, {}, d->tabs()->tabBar()->tabRect(0).center());
    // Validation: 200 samples in a 2×2 confusion matrix whose diagonal is the accuracy.
    app::ConfusionMatrixView* cm = d->confusionView();
    QCOMPARE(cm->classCount(), int64_t{2});
    const int64_t total = cm->cell(0, 0) + cm->cell(0, 1) + cm->cell(1, 0) + cm->cell(1, 1);
    QCOMPARE(total, int64_t{200});
    QCOMPARE(double(cm->cell(0, 0) + cm->cell(1, 1)) / total, r.last_epoch.val_accuracy);
    // Two input features: the whole validation set, drawn as a scatter.
    QCOMPARE(d->sampleView()->sampleCount(), 200);
    QVERIFY(!d->sampleView()->showsImages());

    // The run is kept beside the project: settings, metrics, TensorBoard events, result.
    QDir run(t->currentRunFolder());
    QVERIFY(run.absolutePath().startsWith(s.dir.path() + "/spirals_mlp.runs/run-"));
    QVERIFY(run.exists("settings.json"));
    QVERIFY(run.exists("metrics.csv"));
    QVERIFY(run.exists("result.json"));
    QCOMPARE(run.entryList({"events.out.tfevents.*"}).size(), 1);
    // ... and the trained model, equal to the weights the window now holds.
    project::Project trained = project::load_project(run.filePath("model.netloom").toStdString());
    QCOMPARE(trained.weights.size(), w.session().weights.size());
    QCOMPARE(trained.weights.at("fc3.weight").to_vector<float>(), w.session().weights.at("fc3.weight").to_vector<float>());
    app::RunMetrics kept = app::RunMetrics::readCsv(run.filePath("metrics.csv"));
    QCOMPARE(kept.steps.size(), size_t{100});
    QCOMPARE(kept.epochs.size(), size_t{4});
    QCOMPARE(kept.epochs.back().val_accuracy, r.last_epoch.val_accuracy);
    QCOMPARE(d->historyList()->count(), 1);
    QVERIFY(d->historyList()->item(0)->text().contains("completed, 4 epochs"));

    // The trained weights stay with the project.
    QVERIFY(!w.session().weights.empty());
    QVERIFY(t->continueFromWeightsCheck()->isEnabled());
    QVERIFY(t->startAction()->isEnabled());

    // Export: CSV reads back the same; charts as PNG and SVG.
    QVERIFY(d->exportCsv(s.dir.filePath("out.csv")));
    app::RunMetrics exported = app::RunMetrics::readCsv(s.dir.filePath("out.csv"));
    QCOMPARE(exported.steps.size(), size_t{100});
    QCOMPARE(exported.epochs.size(), size_t{4});
    QCOMPARE(float(exported.steps[42].loss), float(d->metrics().steps[42].loss));  // %.9g keeps float32
    QVERIFY(d->exportCharts(s.dir.filePath("charts.png")));
    QVERIFY(QImage(s.dir.filePath("charts.png")).width() > 100);
    QVERIFY(d->exportCharts(s.dir.filePath("charts.svg")));
    QFile svg(s.dir.filePath("charts.svg"));
    QVERIFY(svg.open(QIODevice::ReadOnly));
    QVERIFY(svg.readAll().contains("<svg"));

    // A second run, then overlay the first on the charts from the History tab.
    retype(t->settingsWidget()->epochsSpin(), "2");
    QTest::keyClick(&w, Qt::Key_F5);
    QVERIFY(waitFinished(t, 120000));
    QCOMPARE(d->historyList()->count(), 2);
    QListWidgetItem* first = d->historyList()->item(1);  // newest first
    first->setCheckState(Qt::Checked);
    const QString overlay = QFileInfo(first->data(Qt::UserRole).toString()).fileName();
    QCOMPARE(d->lossChart()->pointCount(overlay), 4);
    QCOMPARE(d->accuracyChart()->pointCount(overlay), 4);
    QCOMPARE(d->lossChart()->pointCount("validation (epoch)"), 2);
    first->setCheckState(Qt::Unchecked);
    QCOMPARE(d->lossChart()->pointCount(overlay), 0);
  }

  void imageRunShowsSamplesAndConfusion() {
    QTemporaryDir dir;
    QString path = dir.filePath("shapes.netloom");
    project::Project p = project::load_project(NETLOOM_EXAMPLES_DIR "/shapes_cnn.netloom");
    project::save_project(p, path.toStdString());
    MainWindow w;
    w.show();
    QApplication::setActiveWindow(&w);
    QVERIFY(QTest::qWaitForWindowActive(&w));
    QVERIFY(w.openProject(path));
    app::TrainingUi* t = w.training();
    // A small set, one epoch: 320 images to train on, 80 to validate.
    retype(t->settingsWidget()->findChild<QSpinBox*>("samplesSpin"), "400");
    retype(t->settingsWidget()->epochsSpin(), "1");
    QCOMPARE(w.session().training.dataset.samples, int64_t{400});
    QTest::keyClick(&w, Qt::Key_F5);
    QVERIFY(waitFinished(t, 120000));
    QCOMPARE(t->controller()->result().status, run::RunStatus::Completed);
    app::DashboardWidget* d = t->dashboard();
    QVERIFY(d->sampleView()->showsImages());
    QCOMPARE(d->sampleView()->sampleCount(), 32);
    QCOMPARE(d->confusionView()->classCount(), int64_t{4});
    int64_t total = 0;
    for (int64_t a = 0; a < 4; ++a)
      for (int64_t b = 0; b < 4; ++b) total += d->confusionView()->cell(a, b);
    QCOMPARE(total, int64_t{80});
    // Every layer with weights reports a norm; the convolutions' weights have histograms.
    QVERIFY(d->metrics().layers.count("block1_conv"));
    QVERIFY(!d->metrics().layers.at("block1_conv").weights.empty());
  }

  void stopEndsWithinOneStep() {
    SpiralsWindow s;
    QVERIFY(s.ready);
    MainWindow& w = s.window;
    app::TrainingUi* t = w.training();
    retype(t->settingsWidget()->epochsSpin(), "500");
    QTest::keyClick(&w, Qt::Key_F5);
    QTRY_VERIFY_WITH_TIMEOUT(t->controller()->stepsTaken() >= 30, 60000);
    QTest::keyClick(&w, Qt::Key_F5, Qt::ShiftModifier);
    // The steps done when the stop flag was set; only the step in flight may follow.
    const int64_t at_stop = t->controller()->stepsAtStopRequest();
    QVERIFY(at_stop >= 30);
    QVERIFY(waitFinished(t, 30000));
    const run::RunResult& r = t->controller()->result();
    QCOMPARE(r.status, run::RunStatus::Stopped);
    QVERIFY2(r.global_step <= at_stop + 1, qPrintable(QString("stopped at %1, asked at %2").arg(r.global_step).arg(at_stop)));
    QCOMPARE(t->dashboard()->statusLabel()->text(), QString("stopped"));
    QVERIFY(r.epochs_completed < 500);
  }

  void pauseAndResume() {
    SpiralsWindow s;
    QVERIFY(s.ready);
    MainWindow& w = s.window;
    app::TrainingUi* t = w.training();
    retype(t->settingsWidget()->epochsSpin(), "500");
    QTest::keyClick(&w, Qt::Key_F5);
    QTRY_VERIFY_WITH_TIMEOUT(t->controller()->stepsTaken() >= 10, 60000);
    QTRY_VERIFY(t->pauseAction()->isEnabled());
    QTest::keyClick(&w, Qt::Key_F6);
    QCOMPARE(t->controller()->state(), app::RunController::State::Paused);
    QCOMPARE(t->dashboard()->statusLabel()->text(), QString("paused"));
    QVERIFY(t->pauseAction()->isChecked());
    QTest::qWait(100);  // the step in progress ends
    const int64_t paused_at = t->controller()->stepsTaken();
    QTest::qWait(400);
    QCOMPARE(t->controller()->stepsTaken(), paused_at);

    // Save a checkpoint while paused: it lands at once.
    const QString checkpoint = s.dir.filePath("paused.safetensors");
    QVERIFY(t->checkpointAction()->isEnabled());
    t->saveCheckpointNow(checkpoint);
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(checkpoint), 10000);
    QTRY_VERIFY(t->dashboard()->messageLabel()->text().contains("checkpoint saved"));

    QTest::keyClick(&w, Qt::Key_F6);
    QCOMPARE(t->controller()->state(), app::RunController::State::Running);
    QTRY_VERIFY_WITH_TIMEOUT(t->controller()->stepsTaken() > paused_at + 5, 30000);
    t->stop();
    QVERIFY(waitFinished(t, 30000));
    QCOMPARE(t->controller()->result().status, run::RunStatus::Stopped);

    // Resume from the checkpoint: the run continues at the step it was saved at, and ends
    // two epochs after the one it was saved in.
    const int64_t epochs = paused_at / 25 + 2;
    retype(t->settingsWidget()->epochsSpin(), QString::number(epochs));
    QVERIFY(t->startFromCheckpoint(checkpoint));
    QVERIFY(waitFinished(t, 60000));
    const run::RunResult& r = t->controller()->result();
    QCOMPARE(r.status, run::RunStatus::Completed);
    QCOMPARE(r.global_step, epochs * 25);
    QCOMPARE(t->dashboard()->metrics().steps.front().global_step, paused_at + 1);
  }

  void divergingRunShowsItsMessage() {
    SpiralsWindow s;
    QVERIFY(s.ready);
    MainWindow& w = s.window;
    app::TrainingUi* t = w.training();
    retype(t->settingsWidget()->epochsSpin(), "5");
    // Adam moves every weight by about the learning rate: 1e38 overflows float32 at once.
    retype(t->settingsWidget()->learningRateEdit(), "1e38");
    QCOMPARE(w.session().training.optimizer.lr, 1e38);
    QTest::keyClick(&w, Qt::Key_F5);
    QVERIFY(waitFinished(t, 60000));
    const run::RunResult& r = t->controller()->result();
    QCOMPARE(r.status, run::RunStatus::Failed);
    QVERIFY2(QString::fromStdString(r.message).startsWith("loss became"), r.message.c_str());
    app::DashboardWidget* d = t->dashboard();
    QCOMPARE(d->statusLabel()->text(), QString("failed"));
    QVERIFY(d->messageLabel()->isVisibleTo(d));
    QVERIFY(d->messageLabel()->text().startsWith("Run failed: loss became"));
    QVERIFY(d->hintsLabel()->text().contains("NaN or infinite"));
    // The window is still usable, and a failed run leaves the project's weights alone.
    QVERIFY(w.session().weights.empty());
    QVERIFY(t->startAction()->isEnabled());
  }

  void openingAnotherProjectDuringARunKeepsItsWeightsOut() {
    SpiralsWindow s;
    QVERIFY(s.ready);
    MainWindow& w = s.window;
    app::TrainingUi* t = w.training();
    retype(t->settingsWidget()->epochsSpin(), "500");
    QTest::keyClick(&w, Qt::Key_F5);
    QTRY_VERIFY_WITH_TIMEOUT(t->controller()->stepsTaken() >= 5, 60000);
    const QString run_folder = t->currentRunFolder();
    w.newProject();
    t->stop();
    QVERIFY(waitFinished(t, 30000));
    QCOMPARE(t->controller()->result().status, run::RunStatus::Stopped);
    QVERIFY(w.session().weights.empty());  // the new project did not get the old run's weights
    QVERIFY(QFile::exists(run_folder + "/model.netloom"));  // the run kept them
  }

  void badDataEndsWithAMessage() {
    SpiralsWindow s;
    QVERIFY(s.ready);
    MainWindow& w = s.window;
    app::TrainingUi* t = w.training();
    // Shapes are 28×28 images; the model's Input takes 2 features.
    t->settingsWidget()->datasetCombo()->setCurrentText("shapes");
    // Its preview shows images with their labels.
    QSignalSpy previewed(t->settingsWidget(), &app::TrainSettingsWidget::previewReady);
    QTest::mouseClick(t->settingsWidget()->previewButton(), Qt::LeftButton);
    QVERIFY(previewed.wait(60000));
    QVERIFY(t->settingsWidget()->previewView()->showsImages());
    QCOMPARE(t->settingsWidget()->previewView()->sampleCount(), 16);
    QVERIFY(t->settingsWidget()->previewLabel()->text().contains("of 1×28×28"));
    QTest::keyClick(&w, Qt::Key_F5);
    QVERIFY(waitFinished(t, 60000));
    QCOMPARE(t->controller()->result().status, run::RunStatus::Failed);
    QVERIFY2(t->dashboard()->messageLabel()->text().contains("expects 2 per sample"),
             qPrintable(t->dashboard()->messageLabel()->text()));
  }

  // Note [Event coalescing]: 10,000 steps pushed from a worker as fast as it can reach the
  // dashboard in a few batches, and the UI thread keeps answering its timers meanwhile.
  void floodOfStepsKeepsTheUiResponsive() {
    app::RunController c;
    app::DashboardWidget d;
    d.resize(1200, 700);
    d.show();
    QObject::connect(&c, &app::RunController::eventsArrived, &d, &app::DashboardWidget::addEvents);
    d.beginRun(10, 10000);

    // A probe timer: how late does the UI thread run it?
    QElapsedTimer clock;
    clock.start();
    qint64 last = 0, worst = 0;
    QTimer probe;
    probe.setInterval(5);
    QObject::connect(&probe, &QTimer::timeout, [&] {
      const qint64 now = clock.elapsed();
      worst = std::max(worst, now - last);
      last = now;
    });
    probe.start();

    // 10,000 steps over about a second (a fast trainer), then the deliveries are counted.
    std::atomic<qint64> flood_ms{0};
    std::thread flood([&] {
      QElapsedTimer flood_clock;
      flood_clock.start();
      run::TrainingSink& sink = c.eventSink();
      for (int i = 1; i <= 10000; ++i) {
        if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(1000));
        run::StepMetrics m;
        m.global_step = i;
        m.epoch = (i - 1) / 1000;
        m.batch = (i - 1) % 1000;
        m.batches_per_epoch = 1000;
        m.loss = 2.0 / std::sqrt(double(i));
        m.accuracy = 1.0 - 1.0 / std::sqrt(double(i));
        m.learning_rate = 0.01;
        m.samples_per_second = 5000;
        sink.on_step(m);
        if (i % 1000 == 0) {
          run::EpochMetrics e;
          e.epoch = i / 1000 - 1;
          e.train_loss = m.loss;
          sink.on_epoch(e);
        }
      }
      flood_ms.store(flood_clock.elapsed());
    });
    QTRY_COMPARE_WITH_TIMEOUT(d.metrics().steps.size(), size_t{10000}, 30000);
    flood.join();
    QTest::qWait(300);  // the paced redraw of the last batch
    probe.stop();

    QCOMPARE(d.metrics().epochs.size(), size_t{10});
    // At most one delivery per 33 ms tick while the flood lasted (and a last one after it).
    const qint64 bound = flood_ms.load() / 33 + 2;
    QVERIFY2(c.deliveries() >= 2 && c.deliveries() <= bound,
             qPrintable(QString("%1 deliveries in %2 ms").arg(c.deliveries()).arg(flood_ms.load())));
    QVERIFY(d.lossChart()->pointCount("train") <= app::DashboardWidget::kMaxPoints);
    QVERIFY(d.lossChart()->pointCount("train") > 100);
    // Generous: a 5 ms timer must never wait a quarter of a second behind the flood.
    {
      QElapsedTimer t;
      t.start();
      d.redraw();
      const qint64 redraw_ms = t.restart();
      d.repaint();
      qInfo("redraw %lld ms, repaint %lld ms", redraw_ms, t.elapsed());
    }
    qInfo("worst UI latency under the flood: %lld ms, %lld deliveries", worst, (long long)c.deliveries());
    QVERIFY2(worst < 250, qPrintable(QString("worst probe gap %1 ms").arg(worst)));
  }

  void chartAxesFollowTheData() {
    app::MetricChart chart("Throughput", "samples/s");
    chart.resize(400, 250);
    chart.show();
    chart.setSeries("s", {{0, 0.1}, {1, 0.2}}, Qt::blue);
    chart.rescale();
    // From a range of 1 to one of ten million: the ticks must follow, not multiply.
    QElapsedTimer t;
    t.start();
    chart.setSeries("s", {{0, 1e7}, {1e6, 2e7}}, Qt::blue);
    chart.rescale();
    QVERIFY2(t.elapsed() < 2000, qPrintable(QString("%1 ms").arg(t.elapsed())));
    auto* x = qobject_cast<QValueAxis*>(chart.chart()->axes(Qt::Horizontal).value(0));
    auto* y = qobject_cast<QValueAxis*>(chart.chart()->axes(Qt::Vertical).value(0));
    QVERIFY(x && y);
    QCOMPARE(x->min(), 0.0);
    QCOMPARE(x->max(), 1e6);  // already round
    QVERIFY(y->min() >= 0 && y->min() < 1e7 && y->max() > 2e7);
    QVERIFY(x->tickCount() >= 2 && x->tickCount() <= 10);
    QVERIFY(y->tickCount() >= 2 && y->tickCount() <= 10);
  }

  void smoothingAndEnvelopeHelpers() {
    std::vector<double> y = {1, 1, 1, 1};
    for (double v : app::smoothed(y, 0.9)) QVERIFY(std::abs(v - 1) < 1e-12);  // debiased: a constant stays itself
    std::vector<double> step = {0, 10};
    std::vector<double> s = app::smoothed(step, 0.5);
    QCOMPARE(s[0], 0.0);
    QCOMPARE(s[1], (0.5 * 0 * 0.5 + 0.5 * 10) / (1 - 0.25));
    std::vector<double> x(1000), v(1000);
    for (int i = 0; i < 1000; ++i) {
      x[i] = i;
      v[i] = i % 10;
    }
    app::Decimated d = app::decimate(x, v, v, 100);
    QCOMPARE(d.mean.size(), 100);
    QCOMPARE(d.low.front().y(), 0.0);
    QCOMPARE(d.high.front().y(), 9.0);
    QCOMPARE(d.mean.front().y(), 4.5);
  }
};

QTEST_MAIN(TestTrainingDashboard)
#include "test_training_dashboard.moc"
