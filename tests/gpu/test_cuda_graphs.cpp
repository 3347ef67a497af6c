// Training with CUDA graphs (TrainerOptions::cuda_graphs): replayed steps give the same
// parameters, losses and optimiser state as eager steps, the smaller last batch runs eagerly
// in between, Adam's bias correction advances on the device, and every case a graph cannot
// replay faithfully falls back to eager steps with a message saying why (clipping, dropout,
// a per-step schedule).
#include <algorithm>
#include <memory>

#include "engine/backends/backend.h"
#include "engine/data/data.h"
#include "engine/nn/nn.h"
#include "engine/optim/optim.h"
#include "engine/run/trainer.h"
#include "tests/gpu/gpu_testing.h"

using namespace nl;

namespace {

const Device kGpu = Device::cuda(0);

struct Sink : run::TrainingSink {
  std::vector<run::StepMetrics> steps;
  std::vector<std::string> messages;
  void on_step(const run::StepMetrics& m) override { steps.push_back(m); }
  void on_message(const std::string& s) override { messages.push_back(s); }
  bool said(const std::string& text) const {
    return std::any_of(messages.begin(), messages.end(), [&](auto& m) { return m.find(text) != std::string::npos; });
  }
};

std::shared_ptr<nn::Module> small_cnn(bool dropout) {
  std::vector<nn::ModulePtr> layers = {
      std::make_shared<nn::Conv2d>(1, 8, std::array<int64_t, 2>{3, 3}, nn::Conv2dOptions{.padding = {1, 1}, .bias = false}),
      std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Flatten>()};
  if (dropout) layers.push_back(std::make_shared<nn::Dropout>(0.5));
  layers.push_back(std::make_shared<nn::Linear>(8 * 14 * 14, 3));
  return std::make_shared<nn::Sequential>(layers);
}

struct Result {
  run::RunResult run;
  Sink sink;
  std::shared_ptr<nn::Module> model;
  std::shared_ptr<optim::Optimizer> optimizer;
};

enum class Opt { Sgd, Adam };

// 270 samples in batches of 32: 8 full batches and a last one of 14, for 2 epochs.
std::unique_ptr<Result> train(bool graphs, Opt which, bool dropout = false, bool per_step_schedule = false) {
  auto data = data::make_shapes({.samples = 270, .image_size = 28, .channels = 1, .classes = 3, .seed = 8});
  data::DataLoader loader(data, {.batch_size = 32, .shuffle = true, .seed = 3, .pin_memory = true});
  manual_seed(4);
  auto r = std::make_unique<Result>();
  r->model = small_cnn(dropout);
  r->model->to(kGpu);
  if (which == Opt::Sgd)
    r->optimizer = std::make_shared<optim::SGD>(r->model->parameters(),
                                                optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
  else
    r->optimizer = std::make_shared<optim::Adam>(r->model->parameters(), optim::AdamOptions{.lr = 1e-3});
  std::shared_ptr<optim::LRScheduler> schedule;
  if (per_step_schedule)
    schedule = std::make_shared<optim::CosineAnnealingLR>(*r->optimizer, optim::CosineAnnealingLROptions{.total_steps = 18});
  run::Trainer trainer(r->model, r->optimizer, {.epochs = 2, .device = kGpu, .cuda_graphs = graphs}, schedule);
  r->run = trainer.fit(loader, nullptr, &r->sink);
  return r;
}

}  // namespace

NL_GPU_TEST(replayed_steps_train_as_eager_steps_do) {
  auto eager = train(false, Opt::Sgd);
  auto graphed = train(true, Opt::Sgd);
  NL_GPU_CHECK(graphed->run.status == run::RunStatus::Completed, graphed->run.message);
  NL_GPU_CHECK(!graphed->sink.said("CUDA graphs off"), graphed->sink.messages.empty() ? "" : graphed->sink.messages[0]);
  NL_GPU_CHECK(graphed->sink.steps.size() == eager->sink.steps.size());
  for (size_t i = 0; i < eager->sink.steps.size(); ++i) {
    const double a = eager->sink.steps[i].loss, b = graphed->sink.steps[i].loss;
    NL_GPU_CHECK(std::fabs(a - b) <= 1e-4 + 1e-4 * std::fabs(a), "step ", i + 1, ": loss ", b, " replayed, ", a, " eager");
  }
  auto pe = eager->model->state_dict(), pg = graphed->model->state_dict();
  for (auto& [name, t] : pe) {
    std::string diff = gpu_test::compare(pg.at(name), t, 1e-3, 1e-4);
    NL_GPU_CHECK(diff.empty(), name, ": ", diff);  // running stats and num_batches_tracked included
  }
  // The optimiser counted every replayed step.
  auto se = eager->optimizer->state_dict().to_tensors("o."), sg = graphed->optimizer->state_dict().to_tensors("o.");
  NL_GPU_CHECK(se.size() == sg.size());
  for (auto& [name, t] : se) {
    std::string diff = gpu_test::compare(sg.at(name), t, 1e-3, 1e-4);
    NL_GPU_CHECK(diff.empty(), name, ": ", diff);
  }
}

// Adam's bias correction changes every step: the captured update reads the step counts from
// the device and advances them there, so replays match eager steps.
NL_GPU_TEST(adam_replays_with_its_step_counts_on_the_device) {
  auto eager = train(false, Opt::Adam);
  auto graphed = train(true, Opt::Adam);
  NL_GPU_CHECK(graphed->run.status == run::RunStatus::Completed, graphed->run.message);
  NL_GPU_CHECK(!graphed->sink.said("CUDA graphs off"), graphed->sink.messages.empty() ? "" : graphed->sink.messages[0]);
  for (auto& [name, t] : eager->model->state_dict()) {
    std::string diff = gpu_test::compare(graphed->model->state_dict().at(name), t, 1e-3, 1e-4);
    NL_GPU_CHECK(diff.empty(), name, ": ", diff);
  }
  auto se = eager->optimizer->state_dict().to_tensors("o."), sg = graphed->optimizer->state_dict().to_tensors("o.");
  for (auto& [name, t] : se) {
    std::string diff = gpu_test::compare(sg.at(name), t, 1e-3, 1e-4);
    NL_GPU_CHECK(diff.empty(), name, ": ", diff);  // exp_avg, exp_avg_sq and the step counts
  }
}

NL_GPU_TEST(gradient_clipping_keeps_steps_eager_with_the_reason) {
  auto data = data::make_shapes({.samples = 96, .image_size = 28, .channels = 1, .classes = 3, .seed = 8});
  data::DataLoader loader(data, {.batch_size = 16, .pin_memory = true});
  auto model = small_cnn(false);
  model->to(kGpu);
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  run::Trainer trainer(model, opt, {.epochs = 1, .clip_grad_norm = 1.0, .device = kGpu, .cuda_graphs = true});
  Sink sink;
  run::RunResult r = trainer.fit(loader, nullptr, &sink);
  NL_GPU_CHECK(r.status == run::RunStatus::Completed, r.message);
  NL_GPU_CHECK(sink.said("CUDA graphs off: gradient clipping"));
}

NL_GPU_TEST(dropout_cannot_be_captured_and_training_goes_on) {
  auto r = train(true, Opt::Sgd, true);
  NL_GPU_CHECK(r->run.status == run::RunStatus::Completed, r->run.message);
  NL_GPU_CHECK(r->sink.said("CUDA graphs off: the step cannot be captured"));
  NL_GPU_CHECK(r->sink.steps.size() == static_cast<size_t>(r->run.global_step));
}

NL_GPU_TEST(a_schedule_changing_every_step_turns_graphs_off) {
  auto r = train(true, Opt::Sgd, false, true);
  NL_GPU_CHECK(r->run.status == run::RunStatus::Completed, r->run.message);
  NL_GPU_CHECK(r->sink.said("changes the learning rate or momentum every step"));
  auto eager = train(false, Opt::Sgd, false, true);
  for (auto& [name, t] : eager->model->state_dict()) {
    std::string diff = gpu_test::compare(r->model->state_dict().at(name), t, 1e-3, 1e-4);
    NL_GPU_CHECK(diff.empty(), name, ": ", diff);
  }
}
