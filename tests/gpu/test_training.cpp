// Training on the GPU end to end: the shapes CNN reaches the CPU's accuracy on cuda:0, the
// example project trains through the graph executor on the GPU, step metrics arrive for
// every step although they are read back in windows, and the NaN guard still names the
// exact step.
#include <cmath>
#include <memory>

#include "engine/backends/backend.h"
#include "engine/data/data.h"
#include "engine/nn/nn.h"
#include "engine/optim/optim.h"
#include "engine/project/project.h"
#include "engine/run/graph_executor.h"
#include "engine/run/trainer.h"
#include "engine/run/training_run.h"
#include "tests/gpu/gpu_testing.h"

using namespace nl;

namespace {

std::shared_ptr<nn::Module> shapes_cnn() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(1, 16, std::array<int64_t, 2>{3, 3}, nn::Conv2dOptions{.padding = {1, 1}}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(16, 32, std::array<int64_t, 2>{3, 3}, nn::Conv2dOptions{.padding = {1, 1}}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(32 * 7 * 7, 64), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(64, 3)});
}

struct RecordingSink : run::TrainingSink {
  std::vector<run::StepMetrics> steps;
  void on_step(const run::StepMetrics& m) override { steps.push_back(m); }
};

run::RunResult train_shapes(Device device, RecordingSink* sink) {
  auto data = data::make_shapes({.samples = 2400, .image_size = 28, .channels = 1, .classes = 3, .seed = 2});
  auto parts = data::random_split(data, {0.8, 0.2}, 4);
  const bool pin = device.is_cuda();
  data::DataLoader train(parts[0], {.batch_size = 32, .shuffle = true, .seed = 6, .pin_memory = pin});
  data::DataLoader val(parts[1], {.batch_size = 128, .pin_memory = pin});
  manual_seed(2);
  auto model = shapes_cnn();
  model->to(device);
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 2e-3});
  run::Trainer trainer(model, opt, {.epochs = 6, .device = device});
  return trainer.fit(train, &val, sink);
}

}  // namespace

NL_GPU_TEST(shapes_cnn_on_gpu_reaches_the_cpu_accuracy) {
  run::RunResult cpu = train_shapes(Device::cpu(), nullptr);
  RecordingSink sink;
  run::RunResult gpu = train_shapes(Device::cuda(0), &sink);
  NL_GPU_CHECK(gpu.status == run::RunStatus::Completed, gpu.message);
  NL_GPU_CHECK(gpu.last_epoch.val_accuracy >= 0.95, "GPU accuracy ", gpu.last_epoch.val_accuracy);
  NL_GPU_CHECK(std::fabs(gpu.last_epoch.val_accuracy - cpu.last_epoch.val_accuracy) <= 0.03, "GPU ",
               gpu.last_epoch.val_accuracy, " vs CPU ", cpu.last_epoch.val_accuracy);
  // Every step reported once, in order, although read back in windows.
  NL_GPU_CHECK(sink.steps.size() == static_cast<size_t>(gpu.global_step), sink.steps.size(), " steps reported of ",
               gpu.global_step);
  for (size_t i = 0; i < sink.steps.size(); ++i) {
    NL_GPU_CHECK(sink.steps[i].global_step == static_cast<int64_t>(i + 1), "step ", i, " reported as ",
                 sink.steps[i].global_step);
    NL_GPU_CHECK(std::isfinite(sink.steps[i].loss) && sink.steps[i].samples_per_second > 0);
  }
}

NL_GPU_TEST(example_project_trains_on_gpu_through_the_graph_executor) {
  project::Project p = project::load_project(std::string(NETLOOM_EXAMPLES_DIR) + "/shapes_cnn.netloom");
  p.training.epochs = 1;
  run::GraphExecutor executor;
  run::TrainingRunOptions o;
  o.base_dir = NETLOOM_EXAMPLES_DIR;
  o.device = Device::cuda(0);
  auto training = run::prepare_training_run(p, executor, o);
  for (const auto& [name, t] : training->model->state_dict())
    NL_GPU_CHECK(t.device() == Device::cuda(0), name, " is on ", t.device().str());
  run::RunResult r = training->trainer->fit(*training->train_loader, training->val_loader.get());
  NL_GPU_CHECK(r.status == run::RunStatus::Completed, r.message);
  NL_GPU_CHECK(r.last_epoch.train_accuracy > 0.5, "train accuracy after one epoch ", r.last_epoch.train_accuracy);
}

NL_GPU_TEST(nan_guard_names_the_exact_step_on_gpu) {
  // 64 samples, batch 8, no shuffling: sample 45 is NaN, so batch 6 (step 6) fails.
  Tensor x = randn({64, 4});
  std::vector<float> values = x.to_vector<float>();
  values[45 * 4 + 2] = std::nanf("");
  Tensor inputs = tensor(values, {64, 4});
  Tensor targets = zeros({64}, {.dtype = DType::Int64});
  auto data = std::make_shared<data::TensorDataset>(inputs, targets);
  data::DataLoader loader(data, {.batch_size = 8, .pin_memory = true});
  auto model = std::make_shared<nn::Linear>(4, 3);
  model->to(Device::cuda(0));
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.1});
  run::Trainer trainer(model, opt, {.epochs = 1, .device = Device::cuda(0), .metrics_every = 4});
  RecordingSink sink;
  run::RunResult r = trainer.fit(loader, nullptr, &sink);
  NL_GPU_CHECK(r.status == run::RunStatus::Failed, "status ", static_cast<int>(r.status));
  NL_GPU_CHECK(r.message.find("at step 6 ") != std::string::npos, r.message);
  NL_GPU_CHECK(sink.steps.size() == 5, sink.steps.size(), " steps reported before the NaN");
}

NL_GPU_TEST(a_bad_target_stops_training_with_the_cpu_message_without_waiting_each_step) {
  NL_GPU_REAL_DEVICE_ONLY("the CUDA backend's deferred index checks");
  // Targets 0..2 for a model with 3 outputs, and one 7 in batch 3: the check runs when the
  // window's metrics are read back, and names the value and its position in the batch.
  std::vector<int64_t> labels(64, 1);
  labels[2 * 8 + 5] = 7;
  auto data = std::make_shared<data::TensorDataset>(randn({64, 4}), tensor(labels, {64}));
  data::DataLoader loader(data, {.batch_size = 8, .pin_memory = true});
  auto model = std::make_shared<nn::Linear>(4, 3);
  model->to(Device::cuda(0));
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.1});
  run::Trainer trainer(model, opt, {.epochs = 1, .device = Device::cuda(0), .metrics_every = 4});
  std::string message;
  try {
    trainer.fit(loader);
  } catch (const std::exception& e) {
    message = e.what();
  }
  NL_GPU_CHECK(message.find("cross_entropy: target 7 at position 5 is out of range for 3 classes") !=
                   std::string::npos,
               message);
  NL_GPU_CHECK(message.find("found when the step's results were read back") != std::string::npos, message);
}
