// `netloom train PROJECT [--epochs N] [--device cpu|cuda] [--data PATH] [--out DIR] …`:
// trains the project's model with a progress bar, writes checkpoints, a metrics CSV,
// TensorBoard events and the trained project into the output folder. Ctrl-C stops cleanly after the current step and
// saves; a second Ctrl-C ends the process at once.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "app/cli/cli.h"
#include "app/cli/progress_printer.h"
#include "app/cli/project_loading.h"
#include "app/tensorboard/event_writer.h"
#include "engine/core/error.h"
#include "engine/run/metrics_csv.h"
#include "engine/run/training_run.h"

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

int train(const Arguments& args) {
  if (args.positionals().size() != 1) throw Error("expects one project file (netloom train PROJECT)");
  const std::string project_path = args.positionals()[0];
  project::Project p = project::load_project(project_path);
  project::TrainingSettings& s = p.training;
  if (auto v = args.integer("epochs", 1, 1000000)) s.epochs = *v;
  if (auto v = args.integer("batch-size", 1, 1 << 20)) s.batch_size = *v;
  if (auto v = args.integer("seed", 0, INT64_MAX)) s.seed = static_cast<uint64_t>(*v);
  if (auto v = args.real("lr")) s.optimizer.lr = *v;
  if (auto v = args.value("data")) s.dataset.path = fs::absolute(*v).string();
  if (auto v = args.value("device")) s.device = *v;
  if (auto v = args.value("precision")) s.precision = *v;
  if (args.flag("no-tf32")) s.tf32 = false;
  if (args.flag("cuda-graphs")) s.cuda_graphs = true;
  project::validate(s);
  Device device = parse_device(s.device);

  fs::path out_dir = args.value("out").value_or((fs::path(project_path).parent_path() /
                                                 (fs::path(project_path).stem().string() + "-run"))
                                                    .string());
  fs::create_directories(out_dir / "checkpoints");

  run::GraphExecutor executor;
  auto prepared = run::prepare_training_run(p, executor,
                                            {.base_dir = project_folder(project_path),
                                             .device = device,
                                             .checkpoint_dir = (out_dir / "checkpoints").string(),
                                             .layer_statistics_every = 10});
  const run::PreparedData& data = prepared->data;
  if (prepared->continued_from_weights) {
    std::printf("continuing from the project's weights");
    if (!prepared->untrained.empty()) std::printf(" (%zu new tensors initialised afresh)", prepared->untrained.size());
    std::printf("\n");
  }
  run::Trainer& trainer = *prepared->trainer;
  if (auto resume = args.value("resume")) trainer.load_checkpoint(*resume);

  ProgressPrinter progress(stdout, is_terminal(stdout) && !args.flag("plain"), s.epochs);
  run::MetricsCsvWriter csv((out_dir / "metrics.csv").string());
  // The same TensorBoard events the window's runs keep: tensorboard --logdir OUT.
  tensorboard::EventWriter events(out_dir.string());
  run::SinkFanout sinks;
  sinks.add(&progress);
  sinks.add(&csv);
  sinks.add(&events);
  std::printf("training %s on %s: %lld samples (%lld for validation), %lld epochs, batch %lld, %s on %s\n",
              p.name.c_str(), s.dataset.kind.c_str(), static_cast<long long>(data.train->size()),
              static_cast<long long>(data.validation ? data.validation->size() : 0), static_cast<long long>(s.epochs),
              static_cast<long long>(s.batch_size), s.optimizer.kind.c_str(), device.str().c_str());

  run::RunResult result;
  {
    InterruptGuard guard(trainer);
    result = trainer.fit(*prepared->train_loader, prepared->val_loader.get(), &sinks);
  }
  trainer.save_checkpoint((out_dir / "checkpoints" / "last.safetensors").string());
  prepared->model->to(Device::cpu());
  p.weights = prepared->model->state_dict();
  fs::path trained = out_dir / fs::path(project_path).filename();
  project::save_project(p, trained.string());
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
          "Train the project's model; write checkpoints, metrics.csv, TensorBoard events and the trained project to DIR.",
          {{"epochs", "N", "number of epochs (default: the project's setting)"},
           {"device", "DEVICE", "cpu or cuda (default: the project's setting)"},
           {"data", "PATH", "dataset file or folder (default: the project's setting)"},
           {"out", "DIR", "output folder (default: PROJECT-run beside the project)"},
           {"batch-size", "N", "batch size"},
           {"lr", "RATE", "learning rate"},
           {"seed", "N", "random seed"},
           {"resume", "CHECKPOINT", "continue a run from a checkpoint file"},
           {"precision", "float32|bf16", "bf16: autocast matrix products and convolutions on a GPU"},
           {"no-tf32", "", "full float32 matrix products on a GPU (no TF32 tensor cores)"},
           {"cuda-graphs", "", "replay the captured training step on a GPU (CUDA graphs)"},
           {"plain", "", "plain lines instead of a progress bar"}},
          train};
}

}  // namespace nl::app
