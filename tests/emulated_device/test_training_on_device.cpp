// Training on a device other than the CPU, end to end, on machines without a GPU: the
// emulated cuda:0 of emulated_device.h (a real GPU when one answers). Everything the trainer,
// optimisers, clipping, checkpoints, dashboards' statistics and the graph executor do must
// run there without reading device memory on the host or handing host tensors to device
// kernels, and give the CPU's numbers.
#include <QtTest/QtTest>

#include <cmath>
#include <filesystem>
#include <memory>

#include "engine/backends/backend.h"
#include "engine/data/data.h"
#include "engine/graph/model_graph.h"
#include "engine/nn/nn.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "engine/project/project.h"
#include "engine/run/graph_executor.h"
#include "engine/run/trainer.h"
#include "engine/run/training_run.h"
#include "tests/emulated_device/emulated_device.h"
#include "tests/importers/onnx_testing.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<nn::Module> shapes_cnn() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(1, 8, std::array<int64_t, 2>{3, 3}, nn::Conv2dOptions{.padding = {1, 1}}),
      std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(8, 16, std::array<int64_t, 2>{3, 3}, nn::Conv2dOptions{.padding = {1, 1}}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Dropout>(0.1), std::make_shared<nn::Linear>(16 * 4 * 4, 32), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(32, 3)});
}

struct RecordingSink : run::TrainingSink {
  std::vector<run::StepMetrics> steps;
  std::vector<run::EpochMetrics> epochs;
  int statistics = 0, validation_reports = 0;
  void on_step(const run::StepMetrics& m) override { steps.push_back(m); }
  void on_epoch(const run::EpochMetrics& m) override { epochs.push_back(m); }
  void on_layer_statistics(const run::LayerStatisticsEvent&) override { ++statistics; }
  void on_validation(const run::ValidationReport&) override { ++validation_reports; }
};

struct ShapesRun {
  run::RunResult result;
  RecordingSink sink;
  std::map<std::string, Tensor> weights;  // on the CPU
};

// Two epochs of the shapes CNN with Adam, gradient clipping, layer statistics, validation
// samples and checkpoints: every trainer feature that touches tensors.
ShapesRun train_shapes(Device device, const fs::path& checkpoints, bool bf16 = false) {
  fs::create_directories(checkpoints);
  auto data = data::make_shapes({.samples = 480, .image_size = 16, .channels = 1, .classes = 3, .seed = 2});
  auto parts = data::random_split(data, {0.75, 0.25}, 4);
  const bool pin = !device.is_cpu();
  data::DataLoader train(parts[0], {.batch_size = 24, .shuffle = true, .seed = 6, .pin_memory = pin});
  data::DataLoader val(parts[1], {.batch_size = 40, .pin_memory = pin});
  manual_seed(2);
  auto model = shapes_cnn();
  model->to(device);
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 3e-3});
  run::TrainerOptions o{.epochs = 2, .clip_grad_norm = 1.0, .checkpoint_dir = checkpoints.string(),
                        .layer_statistics_every = 5, .validation_samples = 6, .device = device, .metrics_every = 7,
                        .bf16_autocast = bf16};
  run::Trainer trainer(model, opt, o);
  ShapesRun r;
  r.result = trainer.fit(train, &val, &r.sink);
  for (const auto& [name, t] : model->state_dict()) r.weights[name] = t.to(Device::cpu());
  return r;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  return amax(abs(sub(a.to(DType::Float32), b.to(DType::Float32)))).item();
}

// A small model's parameters after three steps of `make_optimizer`, clipping by `clip`.
std::vector<Tensor> three_steps(Device device, const std::function<std::shared_ptr<optim::Optimizer>(
                                                   const std::vector<Tensor>&)>& make_optimizer,
                                const std::function<void(const std::vector<Tensor>&)>& clip) {
  manual_seed(11);
  auto model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(6, 10), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(10, 4)});
  Tensor x = randn({16, 6});
  Tensor y = tensor(std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, {16});
  model->to(device);
  x = x.to(device);
  y = y.to(device);
  auto opt = make_optimizer(model->parameters());
  for (int step = 0; step < 3; ++step) {
    opt->zero_grad();
    Tensor loss = cross_entropy(model->forward(x), y);
    loss.backward();
    if (clip) clip(model->parameters());
    opt->step();
  }
  std::vector<Tensor> out;
  for (const Tensor& p : model->parameters()) {
    if (p.device() != device) throw Error("a parameter left " + device.str() + " for " + p.device().str());
    out.push_back(p.to(Device::cpu()));
  }
  return out;
}

}  // namespace

class TrainingOnDevice : public QObject {
  Q_OBJECT
  std::unique_ptr<testing::EmulatedDevice> device_;
  fs::path tmp_;

 private slots:
  void initTestCase() {
    device_ = std::make_unique<testing::EmulatedDevice>();
    if (!device_->is_emulated()) qInfo("a real GPU answers: these tests run on it");
    tmp_ = fs::temp_directory_path() / ("netloom_emulated_" + std::to_string(QCoreApplication::applicationPid()));
    fs::create_directories(tmp_);
  }
  void cleanupTestCase() {
    fs::remove_all(tmp_);
    device_.reset();
  }

  void host_reads_of_device_memory_are_refused() {
    if (!device_->is_emulated()) QSKIP("checks the emulation itself");
    Tensor x = randn({3, 2}).to(device_->device());
    QVERIFY_THROWS_EXCEPTION(Error, x.data<float>());
    // A host tensor handed to a device kernel fails naming the kernel, not with a crash.
    Tensor y = Tensor::empty({3, 2}, DType::Float32, device_->device());
    try {
      backend_for(device_->device()).binary(BinaryOp::Add, x, randn({3, 2}), y);
      QFAIL("a host tensor reached a device kernel");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("kernel binary got b on cpu"), e.what());
    }
    QCOMPARE(add(x, x).to(Device::cpu()).to_vector<float>(), mul(x, 2.0).to(Device::cpu()).to_vector<float>());
  }

  void shapes_cnn_trains_on_the_device_as_on_the_cpu() {
    const long calls_before = testing::EmulatedDevice::kernel_calls();
    ShapesRun cpu = train_shapes(Device::cpu(), tmp_ / "cpu");
    ShapesRun dev = train_shapes(device_->device(), tmp_ / "device");
    QVERIFY2(dev.result.status == run::RunStatus::Completed, dev.result.message.c_str());
    if (device_->is_emulated()) QVERIFY(testing::EmulatedDevice::kernel_calls() > calls_before + 1000);
    // Every step reported once, in order, although metrics are read back every 7 steps.
    QCOMPARE(dev.sink.steps.size(), cpu.sink.steps.size());
    QCOMPARE(static_cast<int64_t>(dev.sink.steps.size()), dev.result.global_step);
    for (size_t i = 0; i < dev.sink.steps.size(); ++i) {
      QCOMPARE(dev.sink.steps[i].global_step, static_cast<int64_t>(i + 1));
      // The same kernels run on both sides (a GPU's differ in rounding); the optimiser runs
      // tensor ops on the device and a fused loop on the CPU, equal to a few ulps a step.
      const double tolerance = device_->is_emulated() ? 1e-3 : 5e-2;
      QVERIFY2(std::fabs(dev.sink.steps[i].loss - cpu.sink.steps[i].loss) <= tolerance * (1 + cpu.sink.steps[i].loss),
               qPrintable(QString("step %1: loss %2 on the device, %3 on the CPU")
                              .arg(i + 1)
                              .arg(dev.sink.steps[i].loss)
                              .arg(cpu.sink.steps[i].loss)));
    }
    QVERIFY2(std::fabs(dev.result.last_epoch.val_accuracy - cpu.result.last_epoch.val_accuracy) <= 0.05,
             qPrintable(QString("val accuracy %1 vs %2")
                            .arg(dev.result.last_epoch.val_accuracy)
                            .arg(cpu.result.last_epoch.val_accuracy)));
    QCOMPARE(dev.sink.statistics, cpu.sink.statistics);
    QVERIFY(dev.sink.statistics > 0);
    QCOMPARE(dev.sink.validation_reports, cpu.sink.validation_reports);
    for (const auto& [name, w] : cpu.weights)
      QVERIFY2(max_abs_diff(dev.weights.at(name), w) <= 1e-2, name.c_str());
    // Checkpoints written from device tensors load on the CPU.
    bool found = false;
    for (const auto& e : fs::directory_iterator(tmp_ / "device")) found = found || e.is_regular_file();
    QVERIFY2(found, "no checkpoint was written from the device run");
  }

  void bf16_autocast_trains_with_float32_master_weights() {
    const long before = testing::EmulatedDevice::reduced_precision_calls();
    ShapesRun f32 = train_shapes(device_->device(), tmp_ / "f32");
    if (device_->is_emulated()) QCOMPARE(testing::EmulatedDevice::reduced_precision_calls(), before);
    ShapesRun bf16 = train_shapes(device_->device(), tmp_ / "bf16", true);
    QVERIFY2(bf16.result.status == run::RunStatus::Completed, bf16.result.message.c_str());
    // Every convolution and Linear, forward and backward, ran in bf16 (30 steps × 4 layers × 3).
    if (device_->is_emulated()) QVERIFY(testing::EmulatedDevice::reduced_precision_calls() > before + 300);
    for (const auto& [name, w] : bf16.weights) QVERIFY2(w.dtype() == f32.weights.at(name).dtype(), name.c_str());
    QCOMPARE(bf16.weights.at("0.weight").dtype(), DType::Float32);
    // bf16 keeps 8 bits of mantissa: the losses follow the float32 run's loosely.
    QCOMPARE(bf16.sink.steps.size(), f32.sink.steps.size());
    for (size_t i = 0; i < f32.sink.steps.size(); ++i)
      QVERIFY2(std::fabs(bf16.sink.steps[i].loss - f32.sink.steps[i].loss) <= 0.1 * (1 + f32.sink.steps[i].loss),
               qPrintable(QString("step %1: %2 in bf16, %3 in float32")
                              .arg(i + 1)
                              .arg(bf16.sink.steps[i].loss)
                              .arg(f32.sink.steps[i].loss)));
    QVERIFY(std::fabs(bf16.result.last_epoch.val_accuracy - f32.result.last_epoch.val_accuracy) <= 0.1);
  }

  void every_optimizer_and_clipping_runs_on_the_device_as_on_the_cpu() {
    using Make = std::function<std::shared_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;
    using Clip = std::function<void(const std::vector<Tensor>&)>;
    const std::vector<std::tuple<const char*, Make, Clip>> cases = {
        {"SGD nesterov + clip_grad_norm_",
         [](const auto& p) {
           return std::make_shared<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
         },
         [](const auto& p) { optim::clip_grad_norm_(p, 0.5); }},
        {"SGD weight decay + clip_grad_value_",
         [](const auto& p) {
           return std::make_shared<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.5, .weight_decay = 1e-2});
         },
         [](const auto& p) { optim::clip_grad_value_(p, 0.05); }},
        {"Adam amsgrad + inf-norm clipping",
         [](const auto& p) { return std::make_shared<optim::Adam>(p, optim::AdamOptions{.lr = 0.01, .amsgrad = true}); },
         [](const auto& p) { optim::clip_grad_norm_(p, 0.1, INFINITY); }},
        {"AdamW", [](const auto& p) { return std::make_shared<optim::AdamW>(p, optim::AdamWOptions{.lr = 0.01}); },
         nullptr},
        {"RMSprop centered + momentum",
         [](const auto& p) {
           return std::make_shared<optim::RMSprop>(p,
                                                   optim::RMSpropOptions{.lr = 0.01, .momentum = 0.9, .centered = true});
         },
         [](const auto& p) { optim::clip_grad_norm_(p, 0.3, 1.0); }},
    };
    for (const auto& [name, make, clip] : cases) {
      std::vector<Tensor> on_cpu = three_steps(Device::cpu(), make, clip);
      std::vector<Tensor> on_device;
      try {
        on_device = three_steps(device_->device(), make, clip);
      } catch (const Error& e) {
        QFAIL(qPrintable(QString("%1: %2").arg(name, e.what())));
      }
      QCOMPARE(on_device.size(), on_cpu.size());
      for (size_t i = 0; i < on_cpu.size(); ++i)
        QVERIFY2(max_abs_diff(on_device[i], on_cpu[i]) <= 1e-5,
                 qPrintable(QString("%1: parameter %2 differs by %3").arg(name).arg(i).arg(max_abs_diff(on_device[i], on_cpu[i]))));
    }
  }

  void every_example_project_trains_through_the_graph_executor_on_the_device() {
    for (const auto& entry : fs::directory_iterator(NETLOOM_EXAMPLES_DIR)) {
      for (const char* precision : {"float32", "bf16"}) {
        if (entry.path().extension() != ".netloom") continue;
        const std::string name = entry.path().filename().string() + " in " + precision;
        project::Project p = project::load_project(entry.path().string());
        p.training.epochs = 1;
        p.training.precision = precision;
        if (p.training.dataset.kind == "cifar10") {
          // CIFAR-10 is not shipped: the same 3×32×32 images, drawn.
          p.training.dataset.kind = "shapes";
          p.training.dataset.image_size = 32;
          p.training.dataset.channels = 3;
          p.training.dataset.num_classes = 5;
          p.training.dataset.samples = 400;
        }
        run::GraphExecutor executor;
        run::TrainingRunOptions o;
        o.base_dir = NETLOOM_EXAMPLES_DIR;
        o.device = device_->device();
        o.layer_statistics_every = 2;
        o.validation_samples = 4;
        std::unique_ptr<run::TrainingRun> training;
        try {
          training = run::prepare_training_run(p, executor, o);
        } catch (const Error& e) {
          QFAIL(qPrintable(QString::fromStdString(name + ": " + e.what())));
        }
        for (const auto& [tensor_name, t] : training->model->state_dict())
          QVERIFY2(t.device() == device_->device(), qPrintable(QString::fromStdString(name + ": " + tensor_name)));
        // Six steps are enough to run every layer forward and backward and the optimiser.
        struct StopAfter : run::TrainingSink {
          run::Trainer* trainer = nullptr;
          int steps = 0;
          void on_step(const run::StepMetrics& m) override {
            if (++steps >= 6 || !std::isfinite(m.loss)) trainer->request_stop();
          }
        } sink;
        sink.trainer = training->trainer.get();
        run::RunResult r = training->trainer->fit(*training->train_loader, training->val_loader.get(), &sink);
        QVERIFY2(r.status != run::RunStatus::Failed, qPrintable(QString::fromStdString(name + ": " + r.message)));
        QVERIFY2(sink.steps >= 6, qPrintable(QString::fromStdString(name)));
      }
    }
  }

  // CUDA graphs (Note [Replayed steps] in engine/run/trainer.cpp) on the emulated device,
  // which captures and replays as a GPU does: SGD and Adam steps replayed from one captured
  // step give the eager steps' losses, weights and optimiser state (the last, smaller batch
  // of each epoch runs eagerly in between); Adam without device step counts (no fused
  // kernels) cannot be captured and trains eagerly, saying why.
  void cuda_graphs_replay_steps_as_eager_steps_do() {
    if (!device_->is_emulated()) QSKIP("tests/gpu/test_cuda_graphs.cpp runs this on a real GPU");
    struct Messages : RecordingSink {
      std::vector<std::string> lines;
      void on_message(const std::string& m) override { lines.push_back(m); }
    };
    struct Run {
      Messages sink;
      run::RunResult result;
      std::map<std::string, Tensor> weights, optimizer_state;
    };
    auto train = [&](bool graphs, bool adam) {
      manual_seed(3);
      auto data = std::make_shared<data::TensorDataset>(randn({100, 6}),
                                                        tensor(std::vector<int64_t>(100, 1), {100}));
      data::DataLoader loader(data, {.batch_size = 16, .shuffle = true, .seed = 2});
      manual_seed(7);
      auto model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
          std::make_shared<nn::Linear>(6, 12), std::make_shared<nn::BatchNorm1d>(12), std::make_shared<nn::ReLU>(),
          std::make_shared<nn::Linear>(12, 3)});
      model->to(device_->device());
      std::shared_ptr<optim::Optimizer> opt;
      if (adam) opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-2});
      else opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
      run::Trainer trainer(model, opt, {.epochs = 3, .device = device_->device(), .metrics_every = 5, .cuda_graphs = graphs});
      auto r = std::make_unique<Run>();
      r->result = trainer.fit(loader, nullptr, &r->sink);
      for (const auto& [name, t] : model->state_dict()) r->weights[name] = t.to(Device::cpu());
      for (const auto& [name, t] : opt->state_dict().to_tensors("o.")) r->optimizer_state[name] = t.to(Device::cpu());
      return r;
    };
    auto same = [](const Run& graphed, const Run& eager, const char* what) {
      QVERIFY2(graphed.result.status == run::RunStatus::Completed, graphed.result.message.c_str());
      QCOMPARE(graphed.sink.steps.size(), eager.sink.steps.size());
      for (size_t i = 0; i < eager.sink.steps.size(); ++i)
        QVERIFY2(std::fabs(graphed.sink.steps[i].loss - eager.sink.steps[i].loss) <= 1e-5 * (1 + eager.sink.steps[i].loss),
                 qPrintable(QString("%1 step %2: %3 replayed, %4 eager")
                                .arg(what).arg(i + 1).arg(graphed.sink.steps[i].loss).arg(eager.sink.steps[i].loss)));
      for (const auto& [name, t] : eager.weights)
        QVERIFY2(max_abs_diff(graphed.weights.at(name), t) <= 1e-5, qPrintable(QString("%1 %2").arg(what, name.c_str())));
      QCOMPARE(graphed.optimizer_state.size(), eager.optimizer_state.size());
      for (const auto& [name, t] : eager.optimizer_state)
        QVERIFY2(max_abs_diff(graphed.optimizer_state.at(name), t) <= 1e-5, qPrintable(QString("%1 %2").arg(what, name.c_str())));
    };

    // SGD: the portable update replays as recorded kernels.
    long captures = testing::EmulatedDevice::graphs_captured();
    auto sgd_eager = train(false, false);
    const long replays = testing::EmulatedDevice::graph_replays();
    auto sgd_graphed = train(true, false);
    QVERIFY2(sgd_graphed->sink.lines.empty(), sgd_graphed->sink.lines.empty() ? "" : sgd_graphed->sink.lines[0].c_str());
    QVERIFY(testing::EmulatedDevice::graphs_captured() > captures);
    // 18 full batches in 3 epochs; the first few run eagerly before the capture.
    QVERIFY2(testing::EmulatedDevice::graph_replays() - replays >= 12,
             qPrintable(QString::number(testing::EmulatedDevice::graph_replays() - replays)));
    same(*sgd_graphed, *sgd_eager, "SGD");

    // Adam needs its step counts on the device, which only fused kernels advance.
    auto adam_eager = train(false, true);
    auto fallback = train(true, true);
    QVERIFY2(fallback->result.status == run::RunStatus::Completed, fallback->result.message.c_str());
    bool said = false;
    for (const auto& m : fallback->sink.lines)
      said = said || (m.find("CUDA graphs off: the step cannot be captured") == 0 && m.find("step counts on the device") != std::string::npos);
    QVERIFY2(said, fallback->sink.lines.empty() ? "no message" : fallback->sink.lines.front().c_str());
    same(*fallback, *adam_eager, "Adam, eager after the failed capture");

    testing::EmulatedDevice::set_fused_updates(true);
    captures = testing::EmulatedDevice::graphs_captured();
    auto adam_fused_eager = train(false, true), adam_graphed = train(true, true);
    testing::EmulatedDevice::set_fused_updates(false);
    QVERIFY2(adam_graphed->sink.lines.empty(), adam_graphed->sink.lines.empty() ? "" : adam_graphed->sink.lines[0].c_str());
    QVERIFY(testing::EmulatedDevice::graphs_captured() > captures);
    same(*adam_graphed, *adam_fused_eager, "Adam");
  }

  // A batch too big for the GPU: the error names the step, the layer and the sizes, every
  // tensor of the failed step is given back, and a smaller batch then trains in the same
  // process (the emulated GPU has 64 MiB here; the real allocator's own part of this is
  // tests/gpu/test_allocator.cpp).
  void out_of_memory_names_step_and_layer_and_a_smaller_batch_trains() {
    if (!device_->is_emulated()) QSKIP("needs the emulated GPU's memory limit");
    using namespace nl::graph;
    ModelGraph g;
    NodeId x = onnx_testing::add(g, "Input", "x", {{"shape", std::vector<int64_t>{-1, 16}}}, {});
    NodeId wide = onnx_testing::add(g, "Linear", "wide", {{"out_features", int64_t{8192}}}, {{x, 0}});
    NodeId act = onnx_testing::add(g, "ReLU", "act", {}, {{wide, 0}});
    NodeId head = onnx_testing::add(g, "Linear", "head", {{"out_features", int64_t{3}}}, {{act, 0}});
    onnx_testing::add(g, "Output", "y", {}, {{head, 0}});
    run::GraphExecutor executor;
    auto model = executor.build(g);
    model->to(device_->device());
    auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.01});
    auto data = std::make_shared<data::TensorDataset>(randn({8192, 16}), zeros({8192}, {.dtype = DType::Int64}));
    auto fit_with_batch = [&](int64_t batch) {
      data::DataLoader loader(data, {.batch_size = batch, .pin_memory = true});
      run::Trainer trainer(model, opt, {.epochs = 1, .device = device_->device()});
      return trainer.fit(loader);
    };
    testing::EmulatedDevice::set_memory_limit(64ll << 20);
    const long long before = testing::EmulatedDevice::allocated_bytes();
    std::string message;
    try {
      fit_with_batch(4096);  // "wide" alone would be 128 MiB
    } catch (const OutOfMemoryError& e) {
      message = e.what();
    }
    QVERIFY2(message.find("training step 1 on cuda:0: wide (Linear): cuda:0 is out of memory: tried to allocate "
                          "128 MiB") == 0,
             message.c_str());
    QVERIFY2(message.find("Use a smaller batch") != std::string::npos, message.c_str());
    QVERIFY2(message.find("A smaller batch size needs less memory.") == std::string::npos, message.c_str());  // once
    // Nothing of the failed step is left on the device.
    QCOMPARE(testing::EmulatedDevice::allocated_bytes(), before);
    run::RunResult small = fit_with_batch(64);
    testing::EmulatedDevice::set_memory_limit(0);
    QVERIFY2(small.status == run::RunStatus::Completed, small.message.c_str());
    QCOMPARE(small.global_step, int64_t{128});
  }

  // On a GPU the host only queues work; every value read back makes it wait for the device
  // to catch up. The training step must not read anything back (the issue: "no
  // synchronisation in the training step except where a value is read back; metrics are
  // read every N steps"): with metrics_every = 10, 60 steps wait in 6 windows (each reads the
  // window's losses and correct counts in one copy), whatever the model: BatchNorm's batch counts,
  // dropout, Adam and cross-entropy's target counts stay on the device. Validation adds up
  // its loss, accuracy and top-k hits on the device and reads them once; the dashboard's
  // layer statistics read every parameter and gradient in one copy.
  void training_steps_do_not_wait_for_the_device() {
    if (!device_->is_emulated()) QSKIP("counts the emulated device's host waits");
    manual_seed(9);
    auto data = data::make_shapes({.samples = 1280, .image_size = 16, .channels = 1, .classes = 3, .seed = 5});
    auto parts = data::random_split(data, {0.75, 0.25}, 4);
    data::DataLoader loader(parts[0], {.batch_size = 16, .shuffle = true, .seed = 1, .pin_memory = true});
    data::DataLoader val(parts[1], {.batch_size = 32, .pin_memory = true});  // 10 batches, read once
    auto model = shapes_cnn();
    model->to(device_->device());
    auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-3});
    run::Trainer trainer(model, opt,
                         {.epochs = 1, .layer_statistics_every = 10, .device = device_->device(), .metrics_every = 10});
    RecordingSink sink;
    const long before = testing::EmulatedDevice::host_waits();
    run::RunResult r = trainer.fit(loader, &val, &sink);
    const long waits = testing::EmulatedDevice::host_waits() - before;
    QVERIFY2(r.status == run::RunStatus::Completed, r.message.c_str());
    QCOMPARE(sink.steps.size(), size_t(60));
    QVERIFY(r.last_epoch.has_validation && r.last_epoch.val_accuracy > 0);
    QVERIFY(sink.statistics >= 6);
    qInfo("60 training steps (metrics and layer statistics every 10) and 10 validation batches: the host "
          "waited %ld times",
          waits);
    // 6 windows, 6 statistics events, validation 2 (its values, the report's).
    QVERIFY2(waits <= 6 + 6 + 2 + 1, qPrintable(QString("%1 waits").arg(waits)));
  }

  void nan_guard_names_the_exact_step_on_the_device() {
    // 64 samples, batch 8, no shuffling: sample 45 is NaN, so batch 6 (step 6) fails although
    // metrics are read back every 4 steps.
    Tensor x = randn({64, 4});
    std::vector<float> values = x.to_vector<float>();
    values[45 * 4 + 2] = std::nanf("");
    auto data = std::make_shared<data::TensorDataset>(tensor(values, {64, 4}), zeros({64}, {.dtype = DType::Int64}));
    data::DataLoader loader(data, {.batch_size = 8, .pin_memory = true});
    auto model = std::make_shared<nn::Linear>(4, 3);
    model->to(device_->device());
    auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.1});
    run::Trainer trainer(model, opt, {.epochs = 1, .device = device_->device(), .metrics_every = 4});
    RecordingSink sink;
    run::RunResult r = trainer.fit(loader, nullptr, &sink);
    QVERIFY(r.status == run::RunStatus::Failed);
    QVERIFY2(r.message.find("at step 6 ") != std::string::npos, r.message.c_str());
    QCOMPARE(sink.steps.size(), size_t(5));
  }
};

QTEST_GUILESS_MAIN(TrainingOnDevice)
#include "test_training_on_device.moc"
