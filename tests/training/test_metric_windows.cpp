// Step metrics read back in windows (TrainerOptions::metrics_every, the GPU default): every
// step is still reported once and in order with the same losses as reading every step, the
// epoch means agree, a stop or a checkpoint flushes the window first, and the NaN guard
// names the exact step. Runs on the CPU, where the windowed path is chosen by the option.
// Also the CPU fallbacks of the device API: pin_memory, memory_stats, unavailable reasons.
#include <QTemporaryDir>

#include <cmath>

#include "engine/backends/backend.h"
#include "engine/data/data.h"
#include "engine/nn/nn.h"
#include "engine/optim/optim.h"
#include "engine/run/trainer.h"
#include "testing.h"

using namespace nl;

namespace {

struct RecordingSink : run::TrainingSink {
  run::Trainer* trainer = nullptr;
  int64_t stop_after_step = -1;
  std::vector<run::StepMetrics> steps;
  std::vector<run::EpochMetrics> epochs;
  void on_step(const run::StepMetrics& m) override {
    steps.push_back(m);
    if (trainer && m.global_step == stop_after_step) trainer->request_stop();
  }
  void on_epoch(const run::EpochMetrics& m) override { epochs.push_back(m); }
};

struct Run {
  run::RunResult result;
  RecordingSink sink;
};

// Spirals, 2 epochs of 15 batches, with metrics read every `every` steps.
std::unique_ptr<Run> train_spirals(int64_t every, int64_t stop_after = -1) {
  auto data = data::make_spirals({.samples_per_class = 120, .seed = 3});
  data::DataLoader loader(data, {.batch_size = 16, .shuffle = true, .seed = 4});
  manual_seed(5);
  auto model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(2, 32), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(32, 2)});
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
  run::Trainer trainer(model, opt, {.epochs = 2, .metrics_every = every});
  auto r = std::make_unique<Run>();
  r->sink.trainer = &trainer;
  r->sink.stop_after_step = stop_after;
  r->result = trainer.fit(loader, nullptr, &r->sink);
  return r;
}

}  // namespace

class TestMetricWindows : public QObject {
  Q_OBJECT
 private slots:
  void windows_report_every_step_as_reading_each_step_does() {
    auto each = train_spirals(1);
    auto windowed = train_spirals(4);  // 15 batches per epoch: windows of 4, 4, 4, 3
    QCOMPARE(windowed->result.status, run::RunStatus::Completed);
    QCOMPARE(windowed->sink.steps.size(), each->sink.steps.size());
    QCOMPARE((int64_t)windowed->sink.steps.size(), windowed->result.global_step);
    for (size_t i = 0; i < each->sink.steps.size(); ++i) {
      const run::StepMetrics &a = each->sink.steps[i], &b = windowed->sink.steps[i];
      QCOMPARE(b.global_step, (int64_t)i + 1);
      QCOMPARE(b.epoch, a.epoch);
      QCOMPARE(b.batch, a.batch);
      QCOMPARE(b.loss, a.loss);  // same arithmetic, only read later
      QCOMPARE(b.accuracy, a.accuracy);
      QCOMPARE(b.learning_rate, a.learning_rate);
      QVERIFY(b.samples_per_second > 0);
      QCOMPARE(b.device_memory_reserved, 0.0);  // CPU
    }
    QCOMPARE(windowed->sink.epochs.size(), size_t(2));
    for (size_t e = 0; e < 2; ++e) {
      QCOMPARE(windowed->sink.epochs[e].train_loss, each->sink.epochs[e].train_loss);
      QCOMPARE(windowed->sink.epochs[e].train_accuracy, each->sink.epochs[e].train_accuracy);
    }
  }

  void a_stop_request_flushes_the_window_first() {
    // The stop is requested from on_step of step 8, the last of the second window; the
    // trainer must stop before step 9 and have reported 1..8.
    auto r = train_spirals(4, 8);
    QCOMPARE(r->result.status, run::RunStatus::Stopped);
    QCOMPARE(r->result.global_step, int64_t(8));
    QCOMPARE(r->sink.steps.size(), size_t(8));
  }

  void nan_guard_names_the_step_inside_a_window() {
    Tensor x = randn({64, 4});
    std::vector<float> values = x.to_vector<float>();
    values[45 * 4 + 2] = std::nanf("");  // batch 6 of 8 samples each
    auto data = std::make_shared<data::TensorDataset>(tensor(values, {64, 4}), zeros({64}, {.dtype = DType::Int64}));
    data::DataLoader loader(data, {.batch_size = 8});
    auto model = std::make_shared<nn::Linear>(4, 3);
    auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.1});
    run::Trainer trainer(model, opt, {.epochs = 1, .metrics_every = 4});
    RecordingSink sink;
    run::RunResult r = trainer.fit(loader, nullptr, &sink);
    QCOMPARE(r.status, run::RunStatus::Failed);
    QVERIFY2(r.message.find("NaN at step 6 (epoch 1, batch 6)") != std::string::npos, r.message.c_str());
    QCOMPARE(sink.steps.size(), size_t(5));  // the steps before it are still reported
  }

  void device_api_falls_back_on_the_cpu() {
    Tensor t = arange(0, 12, 1).reshape({3, 4}).transpose(0, 1);
    Tensor pinned = t.pin_memory();  // pinned when a GPU answers, a contiguous copy otherwise
    QVERIFY(pinned.is_contiguous());
    QCOMPARE(pinned.to_vector<float>(), t.contiguous().to_vector<float>());
    QCOMPARE(memory_stats(Device::cpu()).reserved_bytes, int64_t(0));
    synchronize(Device::cpu());
    empty_cache(Device::cpu());
    QVERIFY(device_unavailable_reason(Device::cpu()).empty());
    if (!backend_available(Device::cuda(0))) {
      const std::string reason = device_unavailable_reason(Device::cuda(0));
      QVERIFY2(!reason.empty(), "no reason given for the missing GPU");
      const std::string error = nl::testing::error_of([] { zeros({2}).to(Device::cuda(0)); });
      QVERIFY2(error.find(reason) != std::string::npos, error.c_str());
    }
    QVERIFY(!backend_available(Device::cuda(63)));
    QVERIFY(!device_unavailable_reason(Device::cuda(63)).empty());
  }
};

QTEST_APPLESS_MAIN(TestMetricWindows)
#include "test_metric_windows.moc"
