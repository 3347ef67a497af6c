// `netloom train PROJECT [--epochs N] [--device cpu|cuda] [--data PATH] [--out DIR] …`:
// trains the project's model with a progress bar, writes checkpoints, a metrics CSV and the
// trained project into the output folder. Ctrl-C stops cleanly after the current step and
// saves; a second Ctrl-C ends the process at once.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "app/cli/cli.h"
#include "app/cli/progress_printer.h"
#include "app/cli/project_loading.h"
#include "engine/core/error.h"
#include "engine/core/generator.h"
#include "engine/run/metrics_csv.h"
#include "engine/run/trainer.h"
#include "engine/run/training_setup.h"

namespace nl::app {

namespace {

namespace fs = std::filesystem;

// Note [Ctrl-C]: the handler only flips the trainer's atomic stop flag (a lock-free store is
// async-signal-safe) and restores the default action, so the loop ends after the step in
// progress and the normal path saves the checkpoint and the project.
std::atomic<run::Trainer*> g_trainer{nullptr};

extern "C" void on_interrupt(int) {
  if (run::Trainer* t = g_trainer.load()) t->request_stop();
  std::signal(SIGINT, SIG_DFL);
}

class InterruptGuard {
 public:
  explicit InterruptGuard(run::Trainer& t) {
    g_trainer.store(&t);
    previous_ = std::signal(SIGINT, on_interrupt);
  }
  ~InterruptGuard() {
    std::signal(SIGINT, previous_);
    g_trainer.store(nullptr);
  }

 private:
  void (*previous_)(int) = SIG_DFL;
};

// The loss when the graph has no Loss node: the registry's Loss layer with that kind.
run::LossFn loss_named(const std::string& kind) {
  const graph::LayerSchema& schema = graph::LayerRegistry::builtin().get("Loss");
  graph::AttrMap attrs{{"loss", kind}};
  if (const graph::AttrSpec* spec = schema.find_attr("loss"); spec && !spec->check(kind).empty())
    throw Error("training.loss: " + spec->check(kind));
  graph::TensorInfo prediction{DType::Float32, graph::shape_from_ints({-1, 1})};
  graph::LayerContext ctx(schema, attrs, {&prediction, nullptr});
  auto forward = schema.build(ctx).forward;
  return [forward](const Tensor& out, const Tensor& target) { return forward({out, target}).at(0); };
}

// The model's Input must accept the dataset's samples; say so before the first step fails.
void check_input_matches(const project::Project& p, const run::PreparedData& data) {
  auto inputs = p.graph.nodes_of_type("Input");
  if (inputs.empty()) return;
  const graph::Node& in = p.graph.node(inputs.front());
  auto shape = std::get<std::vector<int64_t>>(p.graph.attribute(in.id, "shape"));
  std::vector<int64_t> expected(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
  bool ok = expected.size() == data.sample_shape.size();
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == data.sample_shape[i];
  if (!ok) {
    std::string want, got;
    for (auto d : expected) want += (want.empty() ? "" : "\u00d7") + (d < 0 ? std::string("?") : std::to_string(d));
    for (auto d : data.sample_shape) got += (got.empty() ? "" : "\u00d7") + std::to_string(d);
    throw Error("the dataset's samples are " + got + " but the model's Input '" + in.name + "' expects " + want +
                " per sample");
  }
}

int train(const Arguments& args) {
  if (args.positionals().size() != 1) throw Error("expects one project file (netloom train PROJECT)");
  const std::string project_path = args.positionals()[0];
  run::GraphExecutor executor;
  LoadedModel m = load_model(project_path, executor);
  project::TrainingSettings& s = m.project.training;
  if (auto v = args.integer("epochs", 1, 1000000)) s.epochs = *v;
  if (auto v = args.integer("batch-size", 1, 1 << 20)) s.batch_size = *v;
  if (auto v = args.integer("seed", 0, INT64_MAX)) s.seed = static_cast<uint64_t>(*v);
  if (auto v = args.real("lr")) s.optimizer.lr = *v;
  if (auto v = args.value("data")) s.dataset.path = fs::absolute(*v).string();
  if (auto v = args.value("device")) s.device = *v;
  Device device = parse_device(s.device);

  fs::path out_dir = args.value("out").value_or((fs::path(project_path).parent_path() /
                                                 (fs::path(project_path).stem().string() + "-run"))
                                                    .string());
  fs::create_directories(out_dir / "checkpoints");

  // Seed everything a run draws from, so the same settings give the same run.
  manual_seed(s.seed);
  run::PreparedData data = run::load_dataset(s.dataset, project_folder(project_path), s.seed);
  check_input_matches(m.project, data);
  if (!m.project.weights.empty()) {
    std::printf("continuing from the project's weights");
    if (!m.untrained.empty()) std::printf(" (%zu new tensors initialised afresh)", m.untrained.size());
    std::printf("\n");
  } else {
    executor.reset();  // fresh initial weights drawn after seeding
    m.model = executor.build(m.project.graph);
  }
  m.model->to(device);

  data::DataLoaderOptions train_options;
  train_options.batch_size = s.batch_size;
  train_options.shuffle = true;
  train_options.seed = s.seed;
  data::DataLoader train_loader(data.train, train_options);
  std::unique_ptr<data::DataLoader> val_loader;
  if (data.validation && data.validation->size() > 0) {
    data::DataLoaderOptions val_options;
    val_options.batch_size = s.batch_size;
    val_loader = std::make_unique<data::DataLoader>(data.validation, val_options);
  }

  auto optimizer = run::make_optimizer(s.optimizer, m.model->parameters());
  auto scheduler = run::make_scheduler(s.schedule, *optimizer, train_loader.num_batches(), s.epochs);
  run::TrainerOptions options;
  options.loss = m.model->loss_function(loss_named(s.loss));
  options.epochs = s.epochs;
  options.classification = data.num_classes > 0;
  options.top_k = static_cast<int>(std::min<int64_t>(5, std::max<int64_t>(1, data.num_classes)));
  options.clip_grad_norm = s.clip_grad_norm;
  options.early_stopping_patience = s.early_stopping_patience;
  options.checkpoint_dir = (out_dir / "checkpoints").string();
  run::Trainer trainer(m.model, optimizer, options, scheduler);
  if (auto resume = args.value("resume")) trainer.load_checkpoint(*resume);

  ProgressPrinter progress(stdout, is_terminal(stdout) && !args.flag("plain"), s.epochs);
  run::MetricsCsvWriter csv((out_dir / "metrics.csv").string());
  run::SinkFanout sinks;
  sinks.add(&progress);
  sinks.add(&csv);
  std::printf("training %s on %s: %lld samples (%lld for validation), %lld epochs, batch %lld, %s on %s\n",
              m.project.name.c_str(), s.dataset.kind.c_str(), static_cast<long long>(data.train->size()),
              static_cast<long long>(data.validation ? data.validation->size() : 0), static_cast<long long>(s.epochs),
              static_cast<long long>(s.batch_size), s.optimizer.kind.c_str(), device.str().c_str());

  run::RunResult result;
  {
    InterruptGuard guard(trainer);
    result = trainer.fit(train_loader, val_loader.get(), &sinks);
  }
  trainer.save_checkpoint((out_dir / "checkpoints" / "last.safetensors").string());
  m.model->to(Device::cpu());
  m.project.weights = m.model->state_dict();
  fs::path trained = out_dir / fs::path(project_path).filename();
  project::save_project(m.project, trained.string());
  std::printf("saved %s, %s and %s\n", trained.string().c_str(), (out_dir / "metrics.csv").string().c_str(),
              (out_dir / "checkpoints" / "last.safetensors").string().c_str());
  if (result.last_epoch.has_validation)
    std::printf("final validation accuracy %.2f%%\n", 100 * result.last_epoch.val_accuracy);
  return result.status == run::RunStatus::Failed ? 1 : 0;
}

}  // namespace

Command train_command() {
  return {"train",
          "PROJECT [--epochs N] [--device cpu|cuda] [--data PATH] [--out DIR]",
          "Train the project's model; write checkpoints, metrics.csv and the trained project to DIR.",
          {{"epochs", "N", "number of epochs (default: the project's setting)"},
           {"device", "DEVICE", "cpu or cuda (default: the project's setting)"},
           {"data", "PATH", "dataset file or folder (default: the project's setting)"},
           {"out", "DIR", "output folder (default: PROJECT-run beside the project)"},
           {"batch-size", "N", "batch size"},
           {"lr", "RATE", "learning rate"},
           {"seed", "N", "random seed"},
           {"resume", "CHECKPOINT", "continue a run from a checkpoint file"},
           {"plain", "", "plain lines instead of a progress bar"}},
          train};
}

}  // namespace nl::app
