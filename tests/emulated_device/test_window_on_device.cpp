// Training on a GPU from the main window, offscreen, as a user does it: Train Settings lists
// cuda:0 (the emulated device of emulated_device.h where no GPU answers), choosing it shows
// the GPU rows (precision, TF32, CUDA graphs), F5 trains the shapes example there, and the
// dashboard shows the run's GPU memory, its samples and its confusion matrix; a run too big
// for the GPU ends with a message saying so.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "app/gui/main_window.h"
#include "app/gui/run/dashboard_widget.h"
#include "app/gui/run/run_views.h"
#include "app/gui/run/train_settings_widget.h"
#include "app/gui/run/training_ui.h"
#include "engine/project/project.h"
#include "tests/emulated_device/emulated_device.h"

using namespace nl;
using nl::app::MainWindow;

namespace {

void retype(QWidget* w, const QString& text) {
  w->setFocus();
  QTest::keyClick(w, Qt::Key_A, Qt::ControlModifier);
  QTest::keyClicks(w, text);
  QTest::keyClick(w, Qt::Key_Return);
}

}  // namespace

class TestWindowOnDevice : public QObject {
  Q_OBJECT
  std::unique_ptr<testing::EmulatedDevice> device_;

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    device_ = std::make_unique<testing::EmulatedDevice>();
  }
  void cleanupTestCase() { device_.reset(); }

  void shapesTrainOnTheGpuChosenInTrainSettings() {
    QTemporaryDir dir;
    const QString path = dir.filePath("shapes.netloom");
    project::save_project(project::load_project(NETLOOM_EXAMPLES_DIR "/shapes_cnn.netloom"), path.toStdString());
    MainWindow w;
    w.show();
    QApplication::setActiveWindow(&w);
    QVERIFY(QTest::qWaitForWindowActive(&w));
    QVERIFY(w.openProject(path));
    app::TrainingUi* t = w.training();
    app::TrainSettingsWidget* settings = t->settingsWidget();

    auto* device = settings->findChild<QComboBox*>("deviceCombo");
    QVERIFY(device);
    QCOMPARE(device->currentText(), QString("cpu"));
    const int gpu = device->findData(QString("cuda:0"));
    QVERIFY(gpu >= 0);
    // The list says what each GPU is; a device this machine lacks is marked so.
    if (device_->is_emulated()) QCOMPARE(device->itemText(gpu), QString::fromUtf8("cuda:0 · emulated GPU (tests)"));
    QCOMPARE(app::TrainSettingsWidget::deviceLabel("cuda:7"), QString("cuda:7 (not available here)"));
    auto* precision = settings->findChild<QComboBox*>("precisionCombo");
    auto* graphs = settings->findChild<QCheckBox*>("cudaGraphsCheck");
    QVERIFY(precision && graphs);
    QVERIFY(!precision->isVisible());  // GPU rows only for a GPU
    device->setFocus();
    QTest::keyClick(device, Qt::Key_Down);
    QCOMPARE(device->currentData().toString(), QString("cuda:0"));
    QCOMPARE(w.session().training.device, std::string("cuda:0"));
    QVERIFY(precision->isVisible());
    QVERIFY(graphs->isVisible());

    retype(settings->findChild<QSpinBox*>("samplesSpin"), "400");
    retype(settings->epochsSpin(), "1");
    const long calls_before = testing::EmulatedDevice::kernel_calls();
    QSignalSpy finished(t->controller(), &app::RunController::finished);
    QTest::keyClick(&w, Qt::Key_F5);
    QVERIFY(finished.wait(120000));
    QCOMPARE(t->controller()->result().status, run::RunStatus::Completed);
    if (device_->is_emulated()) QVERIFY(testing::EmulatedDevice::kernel_calls() > calls_before + 1000);

    app::DashboardWidget* d = t->dashboard();
    auto* memory = d->findChild<QLabel*>("memoryLabel");
    QVERIFY(memory);
    QVERIFY2(memory->text().contains(" · GPU "), qPrintable(memory->text()));
    QCOMPARE(d->sampleView()->sampleCount(), 32);
    int64_t total = 0;
    for (int64_t a = 0; a < d->confusionView()->classCount(); ++a)
      for (int64_t b = 0; b < d->confusionView()->classCount(); ++b) total += d->confusionView()->cell(a, b);
    QCOMPARE(total, int64_t{80});

    // The same run on a GPU too small for it: the dashboard says so and how to fix it, and
    // the window stays usable. (The emulated GPU gets 1 MiB of memory here.)
    if (!device_->is_emulated()) return;
    testing::EmulatedDevice::set_memory_limit(1ll << 20);
    QSignalSpy failed(t->controller(), &app::RunController::finished);
    QTest::keyClick(&w, Qt::Key_F5);
    QVERIFY(failed.wait(120000));
    testing::EmulatedDevice::set_memory_limit(0);
    QCOMPARE(t->controller()->result().status, run::RunStatus::Failed);
    QCOMPARE(d->statusLabel()->text(), QString("failed"));
    const QString shown = d->messageLabel()->text();
    QVERIFY2(shown.contains("cuda:0 is out of memory") && shown.contains("smaller batch"), qPrintable(shown));
    QVERIFY(t->startAction()->isEnabled());
  }
};

QTEST_MAIN(TestWindowOnDevice)
#include "test_window_on_device.moc"
