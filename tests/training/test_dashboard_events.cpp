// The trainer's events for dashboards: per-layer norms and histograms (checked against the
// gradients themselves), the validation report (confusion matrix and samples), a checkpoint
// saved on request, the shared run setup (prepare_training_run), and the training hints.
#include <QTemporaryDir>

#include <cmath>

#include "engine/data/data.h"
#include "engine/nn/nn.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "engine/project/project.h"
#include "engine/run/layer_statistics.h"
#include "engine/run/trainer.h"
#include "engine/run/training_hints.h"
#include "engine/run/training_run.h"
#include "testing.h"

using namespace nl;

namespace {

std::shared_ptr<nn::Sequential> small_mlp() {
  Generator gen(7);
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(2, 16, true, &gen), std::make_shared<nn::Tanh>(),
      std::make_shared<nn::Linear>(16, 3, true, &gen)});
}

struct Recorder : run::TrainingSink {
  run::Trainer* trainer = nullptr;
  std::string checkpoint_at_step_3;
  std::vector<run::StepMetrics> steps;
  std::vector<run::LayerStatisticsEvent> layers;
  std::vector<run::ValidationReport> reports;
  std::vector<std::string> messages;
  void on_step(const run::StepMetrics& m) override {
    steps.push_back(m);
    if (m.global_step == 3 && !checkpoint_at_step_3.empty()) trainer->request_checkpoint(checkpoint_at_step_3);
  }
  void on_layer_statistics(const run::LayerStatisticsEvent& e) override { layers.push_back(e); }
  void on_validation(const run::ValidationReport& r) override { reports.push_back(r); }
  void on_message(const std::string& m) override { messages.push_back(m); }
};

}  // namespace

class TestDashboardEvents : public QObject {
  Q_OBJECT
 private slots:
  void histogramBuckets() {
    run::Histogram h = run::histogram({0, 1, 2, 3, 4, 5, 6, 7, 8, 10}, 5);
    QCOMPARE(h.min, 0.0);
    QCOMPARE(h.max, 10.0);
    QCOMPARE(h.count, 10.0);
    QCOMPARE(h.sum, 46.0);
    QCOMPARE(h.sum_squares, 0.0 + 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 100);
    QCOMPARE(h.bucket_limits, (std::vector<double>{2, 4, 6, 8, 10}));
    QCOMPARE(h.buckets, (std::vector<double>{2, 2, 2, 2, 2}));
    run::Histogram constant = run::histogram({3, 3, 3}, 30);
    QCOMPARE(constant.buckets, (std::vector<double>{3}));
    QVERIFY(run::histogram({}, 10).buckets.empty());
  }

  void layerStatisticsMatchTheGradients() {
    auto model = small_mlp();
    Tensor x = randn({8, 2});
    Tensor y = tensor(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1}, {8});
    cross_entropy(model->forward(x), y).backward();
    run::LayerStatisticsEvent e = run::layer_statistics(*model, 10);
    QCOMPARE(e.layers.size(), size_t{2});  // the Tanh has no parameters
    QCOMPARE(e.layers[0].name, std::string("0"));
    QCOMPARE(e.layers[1].name, std::string("2"));
    double expect = 0, total = 0;
    for (auto& [name, p] : model->named_parameters()) {
      double sq = 0;
      for (float g : p.grad().to_vector<float>()) sq += double(g) * g;
      if (name.rfind("2.", 0) == 0) expect += sq;
      total += sq;
    }
    QVERIFY(std::abs(e.layers[1].gradient_norm - std::sqrt(expect)) < 1e-9 * (1 + std::sqrt(expect)));
    QVERIFY(std::abs(e.total_gradient_norm - std::sqrt(total)) < 1e-9 * (1 + std::sqrt(total)));
    QCOMPARE(e.layers[0].weights.count, 2.0 * 16 + 16);
    double in_buckets = 0;
    for (double b : e.layers[0].gradients.buckets) in_buckets += b;
    QCOMPARE(in_buckets, 48.0);
  }

  void trainerPublishesStatisticsValidationAndCheckpoints() {
    QTemporaryDir dir;
    auto data = data::make_spirals({.samples_per_class = 40, .classes = 3, .seed = 2});
    auto parts = data::random_split(data, {0.75, 0.25}, 1);
    data::DataLoader train(parts[0], {.batch_size = 16, .shuffle = true, .seed = 1});
    data::DataLoader val(parts[1], {.batch_size = 7});
    auto model = small_mlp();
    auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
    run::Trainer trainer(model, opt, {.epochs = 2, .layer_statistics_every = 2, .validation_samples = 5});
    Recorder sink;
    sink.trainer = &trainer;
    sink.checkpoint_at_step_3 = dir.filePath("now.safetensors").toStdString();
    run::RunResult r = trainer.fit(train, &val, &sink);
    QCOMPARE(r.status, run::RunStatus::Completed);
    // 90 samples in batches of 16: 6 steps an epoch; statistics at steps 2, 4, 6 of each.
    std::vector<int64_t> at;
    for (auto& e : sink.layers) at.push_back(e.global_step);
    QCOMPARE(at, (std::vector<int64_t>{2, 4, 6, 8, 10, 12}));
    // One report per epoch; the confusion matrix counts every validation sample once.
    QCOMPARE(sink.reports.size(), size_t{2});
    const run::ValidationReport& rep = sink.reports.back();
    QCOMPARE(rep.num_classes, int64_t{3});
    int64_t sum = 0, diagonal = 0;
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t p = 0; p < 3; ++p) {
        sum += rep.confusion[t * 3 + p];
        if (t == p) diagonal += rep.confusion[t * 3 + p];
      }
    QCOMPARE(sum, int64_t{30});
    QCOMPARE(double(diagonal) / 30, r.last_epoch.val_accuracy);
    QCOMPARE(rep.samples.size(), size_t{5});
    QCOMPARE(rep.samples[0].shape, (std::vector<int64_t>{2}));
    // The samples are the loader's first ones, with their labels.
    data::Batch first = *val.begin();
    auto inputs = first.inputs.to_vector<float>();
    auto labels = first.targets.to_vector<int64_t>();
    QCOMPARE(rep.samples[4].values, (std::vector<float>{inputs[8], inputs[9]}));
    QCOMPARE(rep.samples[4].label, labels[4]);
    // The checkpoint asked for at step 3 was saved at the next step boundary.
    QVERIFY(QFile::exists(dir.filePath("now.safetensors")));
    QCOMPARE(sink.messages.front(), "checkpoint saved: " + sink.checkpoint_at_step_3);
    auto model2 = small_mlp();
    auto opt2 = std::make_shared<optim::Adam>(model2->parameters(), optim::AdamOptions{.lr = 0.01});
    run::Trainer resumed(model2, opt2, {.epochs = 2});
    resumed.load_checkpoint(sink.checkpoint_at_step_3);
    QCOMPARE(resumed.global_step(), int64_t{3});
  }

  void checkpointRequestToABadPathIsReported() {
    auto data = data::make_spirals({.samples_per_class = 20, .classes = 3, .seed = 2});
    data::DataLoader train(data, {.batch_size = 16});
    auto model = small_mlp();
    auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
    run::Trainer trainer(model, opt, {.epochs = 1});
    Recorder sink;
    sink.trainer = &trainer;
    sink.checkpoint_at_step_3 = "/nonexistent/folder/x.safetensors";
    QCOMPARE(trainer.fit(train, nullptr, &sink).status, run::RunStatus::Completed);
    QCOMPARE(sink.messages.size(), size_t{1});
    QVERIFY(sink.messages[0].rfind("checkpoint not saved: ", 0) == 0);
  }

  void preparedRunOfTheSpiralsExample() {
    project::Project p = project::load_project(NETLOOM_EXAMPLES_DIR "/spirals_mlp.netloom");
    p.training.epochs = 1;
    run::GraphExecutor executor;
    auto run = run::prepare_training_run(p, executor, {.base_dir = NETLOOM_EXAMPLES_DIR});
    QCOMPARE(run->data.train->size(), int64_t{800});
    QCOMPARE(run->data.validation->size(), int64_t{200});
    QCOMPARE(run->train_loader->num_batches(), int64_t{25});
    QVERIFY(!run->continued_from_weights);
    QVERIFY(run->scheduler != nullptr);  // the example's cosine schedule
    run::RunResult r = run->trainer->fit(*run->train_loader, run->val_loader.get());
    QCOMPARE(r.status, run::RunStatus::Completed);
    QCOMPARE(r.global_step, int64_t{25});
    // The same settings give the same run.
    run::GraphExecutor executor2;
    auto again = run::prepare_training_run(p, executor2, {.base_dir = NETLOOM_EXAMPLES_DIR});
    run::RunResult r2 = again->trainer->fit(*again->train_loader, again->val_loader.get());
    QCOMPARE(r2.last_epoch.val_loss, r.last_epoch.val_loss);
    // A dataset that does not fit the Input is refused before training.
    p.training.dataset.kind = "shapes";
    run::GraphExecutor executor3;
    std::string error = nl::testing::error_of([&] { run::prepare_training_run(p, executor3, {}); });
    QVERIFY2(error.find("expects 2 per sample") != std::string::npos, error.c_str());
  }

  void devices() {
    QCOMPARE(run::available_devices().front(), std::string("cpu"));
    QVERIFY(run::device_from_setting("cpu").is_cpu());
    std::string error = nl::testing::error_of([] { run::device_from_setting("gpu"); });
    QVERIFY2(error.find("training.device: 'gpu' is not a device") == 0, error.c_str());
    if (run::available_devices().size() == 1) {
      error = nl::testing::error_of([] { run::device_from_setting("cuda:0"); });
      QVERIFY2(error.find("training.device: cuda:0 is not available: ") == 0, error.c_str());
      // The backend's own reason (no driver, no CUDA build …) and what to do instead.
      QVERIFY2(error.find(device_unavailable_reason(Device::cuda(0))) != std::string::npos, error.c_str());
      QVERIFY2(error.find("Choose cpu in Train Settings") != std::string::npos, error.c_str());
    } else {
      QVERIFY(run::device_from_setting("cuda").is_cuda());
    }
  }

  void hints() {
    run::TrainingHints h({.plateau_epochs = 3, .overfit_epochs = 2});
    auto epoch = [](int64_t i, double loss, double acc, double val_loss, double val_acc) {
      run::EpochMetrics e;
      e.epoch = i;
      e.train_loss = loss;
      e.train_accuracy = acc;
      e.has_validation = true;
      e.val_loss = val_loss;
      e.val_accuracy = val_acc;
      return e;
    };
    h.add_epoch(epoch(0, 1.0, 0.5, 1.0, 0.5));
    h.add_epoch(epoch(1, 0.5, 0.7, 0.6, 0.7));
    QVERIFY(h.current().empty());
    // Training keeps improving while validation gets worse: overfitting, not a plateau.
    h.add_epoch(epoch(2, 0.3, 0.9, 0.7, 0.72));
    h.add_epoch(epoch(3, 0.2, 0.95, 0.8, 0.7));
    std::vector<run::Hint> now = h.current();
    QCOMPARE(now.size(), size_t{1});
    QCOMPARE(now[0].kind, run::Hint::Kind::Overfitting);
    // Three epochs without a better training loss: a plateau.
    h.add_epoch(epoch(4, 0.25, 0.95, 0.5, 0.9));
    h.add_epoch(epoch(5, 0.21, 0.95, 0.5, 0.9));
    h.add_epoch(epoch(6, 0.22, 0.95, 0.5, 0.9));
    now = h.current();
    QCOMPARE(now.size(), size_t{1});
    QCOMPARE(now[0].kind, run::Hint::Kind::Plateau);
    // Gradients: exploding in total, vanishing in one layer.
    run::LayerStatisticsEvent e;
    e.global_step = 70;
    e.total_gradient_norm = 5e3;
    e.layers.push_back({.name = "fc1", .weight_norm = 1.0, .gradient_norm = 1e-9});
    e.layers.push_back({.name = "fc2", .weight_norm = 1.0, .gradient_norm = 5e3});
    h.add_layer_statistics(e);
    now = h.current();
    QCOMPARE(now.size(), size_t{3});
    QCOMPARE(now[1].kind, run::Hint::Kind::ExplodingGradients);
    QCOMPARE(now[2].kind, run::Hint::Kind::VanishingGradients);
    QVERIFY(now[2].text.find("fc1") != std::string::npos);
    QVERIFY(now[2].text.find("fc2") == std::string::npos);
    run::StepMetrics bad;
    bad.global_step = 71;
    bad.loss = NAN;
    h.add_step(bad);
    QCOMPARE(h.current().front().kind, run::Hint::Kind::NonFiniteLoss);
    QVERIFY(h.current().front().text.find("step 71") != std::string::npos);
  }
};

QTEST_MAIN(TestDashboardEvents)
#include "test_dashboard_events.moc"
