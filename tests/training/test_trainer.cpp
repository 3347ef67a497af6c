// The trainer end to end: real learning (spirals MLP, shapes CNN), bit-identical resume from
// checkpoints (epoch boundary and mid-epoch), NaN guard, stop within one step, pause,
// early stopping, and checkpoint errors.
#include <QTemporaryDir>

#include <thread>

#include "engine/data/data.h"
#include "engine/io/safetensors.h"
#include "engine/nn/nn.h"
#include "engine/optim/optim.h"
#include "engine/run/trainer.h"
#include "testing.h"

using namespace nl;
using nl::testing::error_of;

namespace {

std::shared_ptr<nn::Module> spirals_mlp(bool with_dropout = false) {
  Generator gen(11);
  std::vector<nn::ModulePtr> layers = {std::make_shared<nn::Linear>(2, 64, true, &gen), std::make_shared<nn::Tanh>()};
  if (with_dropout) layers.push_back(std::make_shared<nn::Dropout>(0.1));
  layers.push_back(std::make_shared<nn::Linear>(64, 64, true, &gen));
  layers.push_back(std::make_shared<nn::Tanh>());
  layers.push_back(std::make_shared<nn::Linear>(64, 2, true, &gen));
  return std::make_shared<nn::Sequential>(layers);
}

std::shared_ptr<optim::Optimizer> adam(const nn::Module& m, double lr) {
  return std::make_shared<optim::Adam>(m.parameters(), optim::AdamOptions{.lr = lr});
}

// Records events and can stop the trainer after a given step.
struct RecordingSink : run::TrainingSink {
  run::Trainer* trainer = nullptr;
  int64_t stop_after_step = -1;
  std::vector<run::StepMetrics> steps;
  std::vector<run::EpochMetrics> epochs;
  std::vector<std::string> messages;
  void on_step(const run::StepMetrics& m) override {
    steps.push_back(m);
    if (trainer && m.global_step == stop_after_step) trainer->request_stop();
  }
  void on_epoch(const run::EpochMetrics& m) override { epochs.push_back(m); }
  void on_message(const std::string& s) override { messages.push_back(s); }
};

bool same_parameters(const nn::Module& a, const nn::Module& b) {
  auto pa = a.state_dict(), pb = b.state_dict();
  for (auto& [name, t] : pa)
    if (t.to_vector<float>() != pb.at(name).to_vector<float>()) return false;
  return true;
}

}  // namespace

class TestTrainer : public QObject {
  Q_OBJECT
 private slots:
  void spirals_mlp_learns_to_98_percent() {
    auto data = data::make_spirals({.samples_per_class = 300, .seed = 1});
    auto parts = data::random_split(data, {0.8, 0.2}, 3);
    data::DataLoader train(parts[0], {.batch_size = 32, .shuffle = true, .seed = 5});
    data::DataLoader val(parts[1], {.batch_size = 128});
    manual_seed(1);
    auto model = spirals_mlp();
    run::Trainer trainer(model, adam(*model, 0.01), {.epochs = 60});
    RecordingSink sink;
    run::RunResult r = trainer.fit(train, &val, &sink);
    QCOMPARE(r.status, run::RunStatus::Completed);
    QCOMPARE(r.epochs_completed, 60);
    QCOMPARE((int64_t)sink.epochs.size(), 60);
    QCOMPARE((int64_t)sink.steps.size(), 60 * train.num_batches());
    QVERIFY2(r.last_epoch.val_accuracy >= 0.98, std::to_string(r.last_epoch.val_accuracy).c_str());
    QVERIFY(sink.epochs.back().train_loss < sink.epochs.front().train_loss);
  }

  void shapes_cnn_learns_to_95_percent() {
    auto data = data::make_shapes({.samples = 2400, .image_size = 28, .channels = 1, .classes = 3, .seed = 2});
    auto parts = data::random_split(data, {0.8, 0.2}, 4);
    data::DataLoader train(parts[0], {.batch_size = 32, .shuffle = true, .seed = 6});
    data::DataLoader val(parts[1], {.batch_size = 128});
    manual_seed(2);
    auto model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
        std::make_shared<nn::Conv2d>(1, 16, std::array<int64_t, 2>{3, 3}, nn::Conv2dOptions{.padding = {1, 1}}),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
        std::make_shared<nn::Conv2d>(16, 32, std::array<int64_t, 2>{3, 3}, nn::Conv2dOptions{.padding = {1, 1}}),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(32 * 7 * 7, 64), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(64, 3)});
    run::Trainer trainer(model, adam(*model, 2e-3), {.epochs = 6});
    run::RunResult r = trainer.fit(train, &val);
    QCOMPARE(r.status, run::RunStatus::Completed);
    QVERIFY2(r.last_epoch.val_accuracy >= 0.95, std::to_string(r.last_epoch.val_accuracy).c_str());
    QCOMPARE(r.last_epoch.val_top_k_accuracy, 1.0);  // top-5 of 3 classes always hits
  }

  void resume_from_epoch_checkpoint_equals_uninterrupted_run() {
    QTemporaryDir dir;
    auto data = data::make_spirals({.samples_per_class = 100, .seed = 3});
    // Uninterrupted: 3 epochs.
    manual_seed(7);
    auto full = spirals_mlp(true);
    data::DataLoader l1(data, {.batch_size = 16, .shuffle = true, .seed = 9});
    run::Trainer t1(full, adam(*full, 0.01), {.epochs = 3});
    t1.fit(l1);
    // Interrupted: 1 epoch with a checkpoint, then a fresh trainer resumes for the rest.
    manual_seed(7);
    auto part = spirals_mlp(true);
    data::DataLoader l2(data, {.batch_size = 16, .shuffle = true, .seed = 9});
    run::Trainer t2(part, adam(*part, 0.01), {.epochs = 1, .checkpoint_dir = dir.path().toStdString()});
    t2.fit(l2);
    manual_seed(12345);  // the checkpoint must restore the generator
    auto resumed = spirals_mlp(true);
    auto opt = adam(*resumed, 0.01);
    run::Trainer t3(resumed, opt, {.epochs = 3});
    t3.load_checkpoint(dir.path().toStdString() + "/last.safetensors");
    QCOMPARE(t3.epoch(), 1);
    data::DataLoader l3(data, {.batch_size = 16, .shuffle = true, .seed = 9});
    t3.fit(l3);
    QVERIFY(same_parameters(*full, *resumed));
    QCOMPARE(t3.global_step(), t1.global_step());
  }

  void stop_mid_epoch_then_resume_equals_uninterrupted_run() {
    QTemporaryDir dir;
    auto data = data::make_spirals({.samples_per_class = 100, .seed = 4});
    manual_seed(8);
    auto full = spirals_mlp(true);
    data::DataLoader l1(data, {.batch_size = 16, .shuffle = true, .seed = 2});
    run::Trainer t1(full, adam(*full, 0.01), {.epochs = 2});
    RecordingSink s1;
    run::RunResult r1 = t1.fit(l1, nullptr, &s1);

    manual_seed(8);
    auto part = spirals_mlp(true);
    data::DataLoader l2(data, {.batch_size = 16, .shuffle = true, .seed = 2});
    run::Trainer t2(part, adam(*part, 0.01), {.epochs = 2, .checkpoint_dir = dir.path().toStdString()});
    RecordingSink s2;
    s2.trainer = &t2;
    s2.stop_after_step = 17;  // epoch 2, batch 5 (13 batches per epoch)
    run::RunResult r2 = t2.fit(l2, nullptr, &s2);
    QCOMPARE(r2.status, run::RunStatus::Stopped);
    QCOMPARE(r2.global_step, 17);  // stopped within one step of the request
    QVERIFY(QFile::exists(dir.path() + "/stopped.safetensors"));

    auto resumed = spirals_mlp(true);
    run::Trainer t3(resumed, adam(*resumed, 0.01), {.epochs = 2});
    t3.load_checkpoint(dir.path().toStdString() + "/stopped.safetensors");
    data::DataLoader l3(data, {.batch_size = 16, .shuffle = true, .seed = 2});
    RecordingSink s3;
    run::RunResult r3 = t3.fit(l3, nullptr, &s3);
    QCOMPARE(r3.status, run::RunStatus::Completed);
    QVERIFY(same_parameters(*full, *resumed));
    // The resumed epoch reports the same mean loss as the uninterrupted one.
    QCOMPARE(s3.epochs.back().train_loss, s1.epochs.back().train_loss);
    QCOMPARE(r3.global_step, r1.global_step);
  }

  void nan_loss_stops_with_a_message_naming_the_step() {
    auto inputs = ones({8, 2});
    inputs.data<float>()[5] = NAN;  // sample 2 is poisoned
    auto ds = std::make_shared<data::TensorDataset>(inputs, zeros({8}, {.dtype = DType::Int64}),
                                                    std::vector<std::string>{"a", "b"});
    data::DataLoader loader(ds, {.batch_size = 2});
    auto model = spirals_mlp();
    run::Trainer trainer(model, adam(*model, 0.01), {.epochs = 3});
    run::RunResult r = trainer.fit(loader);
    QCOMPARE(r.status, run::RunStatus::Failed);
    QVERIFY2(r.message.find("NaN") != std::string::npos && r.message.find("step 2") != std::string::npos,
             r.message.c_str());
  }

  void pause_holds_the_loop_until_resumed() {
    auto data = data::make_spirals({.samples_per_class = 50, .seed = 5});
    data::DataLoader loader(data, {.batch_size = 20});
    auto model = spirals_mlp();
    run::Trainer trainer(model, adam(*model, 0.01), {.epochs = 2});
    trainer.set_paused(true);
    run::RunResult r;
    std::thread worker([&] { r = trainer.fit(loader); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    QCOMPARE(trainer.global_step(), 0);
    trainer.set_paused(false);
    worker.join();
    QCOMPARE(r.status, run::RunStatus::Completed);
    QCOMPARE(r.global_step, 2 * loader.num_batches());
  }

  void early_stopping_when_validation_stalls() {
    auto data = data::make_spirals({.samples_per_class = 50, .seed = 6});
    data::DataLoader loader(data, {.batch_size = 25});
    auto model = spirals_mlp();
    // A learning rate of zero: the validation loss never improves after the first epoch.
    auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.0});
    run::Trainer trainer(model, opt, {.epochs = 50, .early_stopping_patience = 3});
    run::RunResult r = trainer.fit(loader, &loader);
    QCOMPARE(r.status, run::RunStatus::EarlyStopped);
    QCOMPARE(r.epochs_completed, 4);
    QVERIFY(r.message.find("did not improve") != std::string::npos);
  }

  void bad_checkpoints_are_refused_with_clear_errors() {
    QTemporaryDir dir;
    std::string path = dir.path().toStdString() + "/not_a_checkpoint.safetensors";
    save_safetensors(path, {{"x", ones({2})}});
    auto model = spirals_mlp();
    run::Trainer trainer(model, adam(*model, 0.01));
    QVERIFY(error_of([&] { trainer.load_checkpoint(path); }).find("not a Netloom checkpoint") != std::string::npos);
    QVERIFY(error_of([&] { trainer.load_checkpoint(path + ".missing"); }).find(".missing") != std::string::npos);
    // A checkpoint of a different model names the mismatching key.
    std::string other = dir.path().toStdString() + "/other.safetensors";
    auto small = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(2, 2)});
    run::Trainer(small, adam(*small, 0.01)).save_checkpoint(other);
    std::string msg = error_of([&] { trainer.load_checkpoint(other); });
    QVERIFY2(msg.find("0.weight") != std::string::npos || msg.find("2.weight") != std::string::npos, msg.c_str());
  }
};

QTEST_APPLESS_MAIN(TestTrainer)
#include "test_trainer.moc"
