// The trainer: epoch/step loop with validation, metrics, events to a sink, cancel and pause
// between steps, checkpoints (save/resume), a NaN/Inf guard and early stopping.
//
//   nl::run::Trainer trainer(model, optimizer, {.loss = cross_entropy_loss(), .epochs = 20});
//   nl::run::RunResult r = trainer.fit(train_loader, &val_loader, &sink);
//
// Note [Resume equality]: a checkpoint holds the weights and buffers, optimiser and
// scheduler state, the default generator's state (dropout), the position (epoch and batch
// within it) and the epoch's running sums. The DataLoader's order is a pure function of
// (seed, epoch), so resuming sets the epoch and skips the batches already done; on the CPU
// the resumed run then equals an uninterrupted one bit for bit.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "engine/backends/graph_capture.h"
#include "engine/data/dataloader.h"
#include "engine/nn/module.h"
#include "engine/optim/lr_scheduler.h"
#include "engine/optim/optimizer.h"
#include "engine/run/training_events.h"

namespace nl::run {

// Computes the loss from model outputs and targets.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;
LossFn cross_entropy_loss(double label_smoothing = 0.0);

struct TrainerOptions {
  LossFn loss = cross_entropy_loss();
  int64_t epochs = 10;
  bool classification = true;        // report accuracy (targets are class indices)
  int top_k = 5;                     // validation top-k accuracy
  double clip_grad_norm = 0;         // 0: off
  int64_t early_stopping_patience = 0;  // epochs without val-loss improvement; 0: off
  double early_stopping_min_delta = 0;
  std::string checkpoint_dir;        // empty: no automatic checkpoints
  bool checkpoint_every_epoch = true;
  // Sink extras, for dashboards: per-layer norms and histograms every this many steps (and
  // on the last step of each epoch; 0: never), and this many validation samples with their
  // predictions beside the confusion matrix after each epoch (classification only).
  int64_t layer_statistics_every = 0;
  int64_t validation_samples = 0;
  // Where batches go before the forward pass (the model's device; see training_run.cpp).
  Device device = Device::cpu();
  // Step metrics are read back from the device every this many steps (and at the end of an
  // epoch, and before a pause, stop or checkpoint): reading a value makes the host wait for
  // the device, so on a GPU reading every step would serialise the run. 0: every step on
  // the CPU (where reading costs nothing), every 20 steps on other devices. The NaN guard
  // still names the exact step whose loss was not finite.
  int64_t metrics_every = 0;
  // CUDA graphs: after a few eager steps, capture one training step and replay it for
  // every batch of the same shape (one launch instead of hundreds per step). Falls back to
  // eager steps, with a message saying why, when the step cannot be replayed faithfully
  // (gradient clipping, dropout, a rate that changes every step, the CPU). See Note [Replayed steps] in trainer.cpp.
  bool cuda_graphs = false;
  // bf16 autocast of matrix products and convolutions on GPUs (engine/core/autocast.h):
  // float32 master weights and gradients, bf16 tensor-core maths. No effect on the CPU.
  bool bf16_autocast = false;
};

class Trainer {
 public:
  ~Trainer();
  // `scheduler` may be null; when given it is stepped after every optimiser step.
  Trainer(std::shared_ptr<nn::Module> model, std::shared_ptr<optim::Optimizer> optimizer,
          TrainerOptions options = {}, std::shared_ptr<optim::LRScheduler> scheduler = nullptr);

  // Trains from the current position (the start, or where a loaded checkpoint left off)
  // until `options.epochs` epochs are done, a stop is requested, early stopping triggers,
  // or a step produces a non-finite loss.
  RunResult fit(data::DataLoader& train, data::DataLoader* validation = nullptr, TrainingSink* sink = nullptr);

  // Mean loss, accuracy and top-k accuracy over a loader, in eval mode and without grad.
  EpochMetrics evaluate(data::DataLoader& loader);

  // Thread-safe controls, read between steps.
  void request_stop() { stop_.store(true); }
  void set_paused(bool paused) { paused_.store(paused); }
  bool paused() const { return paused_.load(); }
  // Saves a checkpoint to `path` at the next step boundary (at once while paused) and
  // reports "checkpoint saved: PATH" or the error through the sink's on_message.
  void request_checkpoint(const std::string& path);

  // Checkpoints (safetensors, written atomically). See Note [Resume equality].
  void save_checkpoint(const std::string& path) const;
  void load_checkpoint(const std::string& path);

  int64_t epoch() const { return epoch_; }
  int64_t global_step() const { return global_step_; }

 private:
  struct Sums {
    double loss = 0, correct = 0, samples = 0;
  };
  // A step whose loss and correct count are still on the device.
  struct PendingStep {
    Tensor loss, correct;  // scalars; `correct` undefined unless classifying
    double samples = 0, learning_rate = 0;
    int64_t epoch = 0, batch = 0, batches_per_epoch = 0, global_step = 0;
  };
  // Reads the pending steps back (one wait for the device), adds them to the epoch sums and
  // reports them; returns a message when a loss was not finite.
  std::string flush_metrics(TrainingSink* sink);
  RunResult fit_epochs(data::DataLoader& train, data::DataLoader* validation, TrainingSink* sink);
  // Replays the captured step on `batch` when it fits the graph (capturing one first after
  // the warm-up); false when the step must run eagerly.
  bool replayed_step(const data::Batch& batch, PendingStep& step, TrainingSink* sink);
  bool capture_step(const data::Batch& batch, TrainingSink* sink);
  void stop_graphs(TrainingSink* sink, const std::string& why);
  bool wait_while_paused(TrainingSink* sink);
  void save_requested_checkpoint(TrainingSink* sink);
  EpochMetrics evaluate(data::DataLoader& loader, ValidationReport* report);
  void report_checkpoint(TrainingSink* sink, const std::string& what);

  std::shared_ptr<nn::Module> model_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  std::shared_ptr<optim::LRScheduler> scheduler_;
  TrainerOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::mutex checkpoint_mutex_;
  std::string requested_checkpoint_;  // guarded by checkpoint_mutex_
  std::atomic<bool> checkpoint_requested_{false};

  // Position: the epoch in progress and the batches of it already done.
  int64_t epoch_ = 0;
  int64_t batch_in_epoch_ = 0;
  int64_t global_step_ = 0;
  Sums epoch_sums_;
  std::vector<PendingStep> pending_;
  // CUDA graph mode (options_.cuda_graphs).
  std::unique_ptr<CapturedGraph> graph_;
  Tensor graph_inputs_, graph_targets_, graph_loss_, graph_correct_;
  std::vector<Tensor> graph_grads_;  // what the graph's backward writes, per parameter
  std::vector<double> graph_hyper_;  // hyper-parameters frozen into the graph
  int64_t eager_steps_ = 0;          // before the capture: warm-up
  int64_t recaptures_in_a_row_ = 0;
  bool graphs_stopped_ = false;
  double window_start_ = 0;  // when the first pending step began
  double best_val_loss_ = 1e300;
  int64_t epochs_without_improvement_ = 0;
};

}  // namespace nl::run
