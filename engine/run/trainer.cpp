// The trainer's loop, evaluation and checkpoints (see trainer.h).
#include "engine/run/trainer.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <thread>

#include "engine/backends/backend.h"
#include "engine/backends/deferred_checks.h"
#include "engine/core/autocast.h"
#include "engine/core/generator.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "engine/optim/clip_grad.h"
#include "engine/run/layer_statistics.h"

namespace nl::run {

const char* run_status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Completed: return "completed";
    case RunStatus::Stopped: return "stopped";
    case RunStatus::EarlyStopped: return "early-stopped";
    case RunStatus::Failed: return "failed";
  }
  return "unknown";
}

LossFn cross_entropy_loss(double label_smoothing) {
  return [label_smoothing](const Tensor& out, const Tensor& target) {
    return cross_entropy(out, target, Reduction::Mean, -100, label_smoothing);
  };
}

namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Correct predictions in a batch of logits [N, C] against class indices [N], as a scalar
// tensor on the logits' device (read back later, with the loss).
Tensor correct_on_device(const Tensor& logits, const Tensor& target) {
  NoGradGuard ng;
  return sum(eq(argmax(logits, 1), target.to(DType::Int64)));
}

// Parameter `index` in the optimiser's order (groups, then parameters).
Tensor parameters_at(optim::Optimizer& optimizer, size_t index) {
  for (auto& g : optimizer.param_groups()) {
    if (index < g.params.size()) return g.params[index];
    index -= g.params.size();
  }
  fail("Trainer: parameter ", index, " is not in the optimiser");
}

// Every hyper-parameter an update reads, per group: a replayed step has them frozen in.
std::vector<double> hyper_parameters(const optim::Optimizer& optimizer) {
  std::vector<double> out;
  for (const optim::ParamGroup& g : optimizer.param_groups())
    out.insert(out.end(), {g.lr, g.weight_decay, g.momentum, g.dampening, g.beta1, g.beta2, g.eps, g.alpha});
  return out;
}

// A batch moved to the training device (host → device copies run asynchronously when the
// loader pinned the batch).
data::Batch on_device(data::Batch b, Device device) {
  if (b.inputs.device() != device) b.inputs = b.inputs.to(device);
  if (b.targets.defined() && b.targets.device() != device) b.targets = b.targets.to(device);
  return b;
}

// Targets whose class is among the k largest logits (fewer than k logits strictly larger
// than the target's), as a scalar tensor on the logits' device.
Tensor top_k_on_device(const Tensor& logits, const Tensor& target, int k) {
  NoGradGuard ng;
  Tensor target_logit = gather(logits, 1, target.to(DType::Int64).reshape({-1, 1}));
  Tensor larger = sum(gt(logits, target_logit).to(DType::Int64), {1});
  return sum(lt(larger, static_cast<double>(k)).to(DType::Int64));
}

// The validation report (confusion matrix, first samples with their predictions) built
// from every batch's predictions, kept on the device and read back once at the end.
class ReportCollector {
 public:
  explicit ReportCollector(int64_t max_samples) : max_samples_(max_samples) {}

  void add(const data::Batch& batch, const Tensor& logits) {
    const int64_t n = logits.size(0), c = logits.size(1);
    if (classes_ == 0) classes_ = c;
    NL_CHECK(classes_ == c, "validation: the model's outputs changed from ", classes_, " to ", c,
             " classes between batches");
    pairs_.push_back(stack({argmax(logits, 1), batch.targets.to(DType::Int64).reshape({-1})}, 0));  // [2, n]
    const int64_t keep = std::min<int64_t>(n, max_samples_ - kept_);
    if (keep > 0) {
      inputs_.push_back(batch.inputs.narrow(0, 0, keep).to(DType::Float32));
      kept_ += keep;
    }
  }

  void finish(ValidationReport& report) const {
    if (pairs_.empty()) return;
    const int64_t c = classes_;
    report.num_classes = c;
    report.confusion.assign(c * c, 0);
    const Tensor both = cat(pairs_, 1);  // [2, N]: predicted, then labels
    const int64_t total = both.size(1);
    const std::vector<int64_t> v = both.to_vector<int64_t>();
    const int64_t* predicted = v.data();
    const int64_t* labels = v.data() + total;
    for (int64_t i = 0; i < total; ++i)
      if (labels[i] >= 0 && labels[i] < c) report.confusion[labels[i] * c + predicted[i]] += 1;
    if (inputs_.empty()) return;
    const Tensor inputs = cat(inputs_, 0).to(Device::cpu()).contiguous();
    const int64_t per_sample = kept_ > 0 ? inputs.numel() / kept_ : 0;
    const float* p = inputs.data<float>();
    for (int64_t i = 0; i < kept_; ++i) {
      ValidationReport::Sample sample;
      for (int d = 1; d < inputs.dim(); ++d) sample.shape.push_back(inputs.size(d));
      sample.values.assign(p + i * per_sample, p + (i + 1) * per_sample);
      sample.label = labels[i];
      sample.predicted = predicted[i];
      report.samples.push_back(std::move(sample));
    }
  }

 private:
  int64_t max_samples_, classes_ = 0, kept_ = 0;
  std::vector<Tensor> pairs_, inputs_;
};

}  // namespace

Trainer::Trainer(std::shared_ptr<nn::Module> model, std::shared_ptr<optim::Optimizer> optimizer,
                 TrainerOptions options, std::shared_ptr<optim::LRScheduler> scheduler)
    : model_(std::move(model)), optimizer_(std::move(optimizer)), scheduler_(std::move(scheduler)),
      options_(std::move(options)) {
  NL_CHECK(model_ && optimizer_, "Trainer: a model and an optimiser are required");
  NL_CHECK(options_.epochs >= 0, "Trainer: epochs must not be negative, got ", options_.epochs);
  NL_CHECK(options_.loss != nullptr, "Trainer: no loss function given");
}

bool Trainer::wait_while_paused(TrainingSink* sink) {
  save_requested_checkpoint(sink);
  while (paused_.load() && !stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    save_requested_checkpoint(sink);
  }
  return !stop_.load();
}

void Trainer::request_checkpoint(const std::string& path) {
  std::lock_guard<std::mutex> lock(checkpoint_mutex_);
  requested_checkpoint_ = path;
  checkpoint_requested_.store(true);
}

void Trainer::save_requested_checkpoint(TrainingSink* sink) {
  if (!checkpoint_requested_.load()) return;
  std::string path;
  {
    std::lock_guard<std::mutex> lock(checkpoint_mutex_);
    path = std::move(requested_checkpoint_);
    checkpoint_requested_.store(false);
  }
  try {
    save_checkpoint(path);
    if (sink) sink->on_message("checkpoint saved: " + path);
  } catch (const std::exception& e) {
    if (sink) sink->on_message(std::string("checkpoint not saved: ") + e.what());
  }
}

void Trainer::report_checkpoint(TrainingSink* sink, const std::string& what) {
  if (options_.checkpoint_dir.empty()) return;
  std::string path = options_.checkpoint_dir + "/" + what + ".safetensors";
  save_checkpoint(path);
  if (sink) sink->on_message("checkpoint saved: " + path);
}

Trainer::~Trainer() = default;

RunResult Trainer::fit(data::DataLoader& train, data::DataLoader* validation, TrainingSink* sink) {
  // A graph captured in an earlier fit() may hold stale batch shapes; capture afresh.
  graph_.reset();
  graphs_stopped_ = false;
  eager_steps_ = 0;
  try {
    return fit_epochs(train, validation, sink);
  } catch (const OutOfMemoryError& e) {
    graph_.reset();
    // The step's tensors are gone with the unwinding; give their cached memory back so a
    // smaller run in this process starts from an empty device.
    pending_.clear();
    if (!options_.device.is_cpu()) empty_cache(options_.device);
    // The allocator's own message usually gives the advice already.
    const std::string what = e.what();
    const bool advised = what.find("smaller batch") != std::string::npos;
    throw OutOfMemoryError("training step " + std::to_string(global_step_ + 1) + " on " + options_.device.str() +
                           ": " + what + (advised ? "" : " A smaller batch size needs less memory."));
  }
}

RunResult Trainer::fit_epochs(data::DataLoader& train, data::DataLoader* validation, TrainingSink* sink) {
  stop_.store(false);
  RunResult result;
  auto finish = [&](RunStatus status, std::string message) {
    result.status = status;
    result.message = std::move(message);
    result.epochs_completed = epoch_;
    result.global_step = global_step_;
    if (sink) sink->on_finished(result);
    return result;
  };

  for (; epoch_ < options_.epochs; ++epoch_) {
    model_->train(true);
    train.set_epoch(epoch_);
    train.begin_epoch();
    const int64_t batches = train.num_batches();
    // Resuming mid-epoch: the epoch's order is fixed by (seed, epoch); skip what was done.
    for (int64_t skip = 0; skip < batch_in_epoch_; ++skip)
      NL_CHECK(train.next().has_value(), "Trainer: checkpoint position (batch ", batch_in_epoch_,
               ") is past the end of epoch ", epoch_, " (", batches, " batches)");
    const double epoch_start = seconds_now();

    const int64_t metrics_every =
        options_.metrics_every > 0 ? options_.metrics_every : (options_.device.is_cpu() ? 1 : 20);
    while (true) {
      if (paused_.load() || stop_.load() || checkpoint_requested_.load()) {
        std::string failure = flush_metrics(sink);
        if (!failure.empty()) return finish(RunStatus::Failed, failure);
      }
      if (!wait_while_paused(sink)) {
        report_checkpoint(sink, "stopped");
        return finish(RunStatus::Stopped, "stopped by request at epoch " + std::to_string(epoch_ + 1) + ", batch " +
                                              std::to_string(batch_in_epoch_));
      }
      if (pending_.empty()) window_start_ = seconds_now();
      std::optional<data::Batch> next = train.next();
      if (!next) break;
      data::Batch batch = on_device(std::move(*next), options_.device);
      const bool last_of_epoch = batch_in_epoch_ + 1 == batches;
      PendingStep step;
      step.samples = static_cast<double>(batch.inputs.size(0));
      step.epoch = epoch_;
      step.batch = batch_in_epoch_;
      step.batches_per_epoch = batches;
      step.global_step = global_step_ + 1;
      if (options_.cuda_graphs && replayed_step(batch, step, sink)) {
        if (scheduler_) scheduler_->step();
        ++global_step_;
        ++batch_in_epoch_;
        pending_.push_back(std::move(step));
        if (sink && options_.layer_statistics_every > 0 &&
            (global_step_ % options_.layer_statistics_every == 0 || last_of_epoch)) {
          LayerStatisticsEvent stats = layer_statistics(*model_);
          stats.global_step = global_step_;
          sink->on_layer_statistics(stats);
        }
        if (static_cast<int64_t>(pending_.size()) >= metrics_every || last_of_epoch) {
          std::string failure = flush_metrics(sink);
          if (!failure.empty()) return finish(RunStatus::Failed, failure);
        }
        continue;
      }
      optimizer_->zero_grad();
      AutocastGuard autocast(options_.bf16_autocast);
      // On a GPU, index checks (targets, embeddings) run when the metrics are read back.
      DeferredChecksGuard deferred(!options_.device.is_cpu());
      Tensor output = model_->forward(batch.inputs);
      Tensor loss = options_.loss(output, batch.targets);
      loss.backward();
      if (sink && options_.layer_statistics_every > 0 &&
          ((global_step_ + 1) % options_.layer_statistics_every == 0 || last_of_epoch)) {
        LayerStatisticsEvent stats = layer_statistics(*model_);
        stats.global_step = global_step_ + 1;
        sink->on_layer_statistics(stats);
      }
      if (options_.clip_grad_norm > 0) optim::clip_grad_norm_(model_->parameters(), options_.clip_grad_norm);

      step.loss = loss.detach();
      if (options_.classification) step.correct = correct_on_device(output, batch.targets);
      step.learning_rate = optimizer_->lr();
      if (metrics_every == 1) {
        // Read before the update, so a non-finite loss stops the run with the weights of
        // the step before (the CPU's behaviour since the start; tests rely on it).
        const double loss_value = step.loss.item();
        if (!std::isfinite(loss_value)) {
          pending_.clear();
          return finish(RunStatus::Failed, "loss became " + std::string(std::isnan(loss_value) ? "NaN" : "infinite") +
                                               " at step " + std::to_string(global_step_ + 1) + " (epoch " +
                                               std::to_string(epoch_ + 1) + ", batch " +
                                               std::to_string(batch_in_epoch_ + 1) +
                                               "); try a lower learning rate or gradient clipping");
        }
      }
      optimizer_->step();
      if (scheduler_) scheduler_->step();
      ++global_step_;
      ++batch_in_epoch_;
      ++eager_steps_;
      // The replayed step reads the gradients where its backward wrote them.
      if (graph_) {
        for (size_t i = 0; i < graph_grads_.size(); ++i) parameters_at(*optimizer_, i).set_grad(graph_grads_[i]);
        optimizer_->prepare_replay();  // e.g. Adam's step counts on the device
      }
      pending_.push_back(std::move(step));
      if (static_cast<int64_t>(pending_.size()) >= metrics_every || last_of_epoch) {
        std::string failure = flush_metrics(sink);
        if (!failure.empty()) return finish(RunStatus::Failed, failure);
      }
    }
    {
      std::string failure = flush_metrics(sink);
      if (!failure.empty()) return finish(RunStatus::Failed, failure);
    }

    EpochMetrics em;
    em.epoch = epoch_;
    em.train_loss = epoch_sums_.samples > 0 ? epoch_sums_.loss / epoch_sums_.samples : 0;
    em.train_accuracy = epoch_sums_.samples > 0 ? epoch_sums_.correct / epoch_sums_.samples : 0;
    if (validation) {
      ValidationReport report;
      report.epoch = epoch_;
      const bool reporting = sink && options_.classification;
      EpochMetrics v = evaluate(*validation, reporting ? &report : nullptr);
      if (reporting) sink->on_validation(report);
      em.has_validation = true;
      em.val_loss = v.val_loss;
      em.val_accuracy = v.val_accuracy;
      em.val_top_k_accuracy = v.val_top_k_accuracy;
    }
    em.seconds = seconds_now() - epoch_start;
    if (scheduler_) scheduler_->epoch_end(em.has_validation ? em.val_loss : em.train_loss);
    result.last_epoch = em;
    if (sink) sink->on_epoch(em);

    // The epoch is complete: the position moves to the start of the next one.
    epoch_sums_ = Sums{};
    batch_in_epoch_ = 0;
    const int64_t finished_epoch = epoch_;
    if (options_.checkpoint_every_epoch) {
      ++epoch_;
      report_checkpoint(sink, "last");
      --epoch_;
    }

    if (validation && options_.early_stopping_patience > 0) {
      if (em.val_loss < best_val_loss_ - options_.early_stopping_min_delta) {
        best_val_loss_ = em.val_loss;
        epochs_without_improvement_ = 0;
      } else if (++epochs_without_improvement_ >= options_.early_stopping_patience) {
        ++epoch_;
        return finish(RunStatus::EarlyStopped, "validation loss did not improve for " +
                                                   std::to_string(epochs_without_improvement_) +
                                                   " epochs; stopped after epoch " + std::to_string(finished_epoch + 1));
      }
    }
  }
  return finish(RunStatus::Completed, "completed " + std::to_string(epoch_) + " epochs");
}

// Note [Replayed steps]
// With options.cuda_graphs the trainer runs a few eager steps (cuDNN's algorithm search,
// cuBLAS's workspace and the optimiser's buffers happen there), then captures one step —
// zero_grad, forward, loss, backward, optimiser update, the metrics — into a CUDA graph.
// Each later batch of the same shapes is copied into the graph's input tensors and the
// graph replayed: one launch instead of a few hundred, the same kernels on the same
// memory. What the replay cannot see is kept out:
// - arguments that change per step would be frozen: the optimiser says whether its update
//   has any (Optimizer::replay_blocker; Adam keeps its step counts on the device for the
//   graph, Optimizer::prepare_replay), and a changed
//   learning rate or momentum means a new capture (twice in a row: the schedule changes it
//   every step, and graphs go off);
// - host waits and random numbers make the capture itself fail (graph_capture.h);
// - a batch of another shape (the last, smaller one) runs eagerly; afterwards the
//   parameters' gradients point back at the graph's, which replays and dashboards read.
// Host-side counts advance as eager steps would (Optimizer::count_replayed_step). A
// non-finite loss is found when the window is read back, after that step's update (as with
// any metrics_every > 1), so the failed run's last weights are not the step-before ones.

void Trainer::stop_graphs(TrainingSink* sink, const std::string& why) {
  graph_.reset();
  graph_grads_.clear();
  graphs_stopped_ = true;
  if (sink) sink->on_message("CUDA graphs off: " + why);
}

bool Trainer::capture_step(const data::Batch& batch, TrainingSink* sink) {
  std::string blocker = graph_capture_blocker(options_.device);
  if (blocker.empty()) blocker = optimizer_->replay_blocker();
  if (blocker.empty() && options_.clip_grad_norm > 0)
    blocker = "gradient clipping reads the gradients' norm back every step";
  if (!blocker.empty()) {
    stop_graphs(sink, blocker);
    return false;
  }
  graph_inputs_ = batch.inputs.clone();
  graph_targets_ = batch.targets.clone();
  const std::vector<int64_t> steps_before = optimizer_->step_counts();
  try {
    optimizer_->prepare_replay();
    graph_ = capture_graph(options_.device, [&] {
      optimizer_->zero_grad();
      AutocastGuard autocast(options_.bf16_autocast);
      Tensor output = model_->forward(graph_inputs_);
      Tensor loss = options_.loss(output, graph_targets_);
      loss.backward();
      optimizer_->step();
      graph_loss_ = loss.detach();
      graph_correct_ = options_.classification ? correct_on_device(output, graph_targets_) : Tensor();
    });
  } catch (const std::exception& e) {
    optimizer_->zero_grad();  // the gradients point at memory the failed capture never wrote
    optimizer_->set_step_counts(steps_before);  // the captured update never ran
    stop_graphs(sink, std::string("the step cannot be captured: ") + e.what());
    return false;
  }
  graph_grads_.clear();
  for (size_t i = 0; i < optimizer_->num_params(); ++i) graph_grads_.push_back(parameters_at(*optimizer_, i).grad());
  graph_hyper_ = hyper_parameters(*optimizer_);
  return true;
}

bool Trainer::replayed_step(const data::Batch& batch, PendingStep& step, TrainingSink* sink) {
  constexpr int64_t kWarmupSteps = 3;
  if (graphs_stopped_) return false;
  if (!graph_ && eager_steps_ < kWarmupSteps) return false;
  const bool fits = graph_ && batch.inputs.shape() == graph_inputs_.shape() &&
                    batch.inputs.dtype() == graph_inputs_.dtype() && batch.targets.shape() == graph_targets_.shape() &&
                    batch.targets.dtype() == graph_targets_.dtype();
  if (graph_ && !fits) return false;  // another shape: eager, the graph stays
  bool captured_now = false;
  if (graph_ && hyper_parameters(*optimizer_) != graph_hyper_) {
    if (++recaptures_in_a_row_ > 1) {
      stop_graphs(sink, "the schedule changes the learning rate or momentum every step");
      return false;
    }
    graph_.reset();
  } else if (graph_) {
    recaptures_in_a_row_ = 0;
  }
  if (!graph_) {
    if (!capture_step(batch, sink)) return false;
    captured_now = true;  // the capture counted this step in the optimiser's state
  } else {
    NoGradGuard ng;
    copy_(graph_inputs_, batch.inputs);
    copy_(graph_targets_, batch.targets);
  }
  graph_->replay();
  if (!captured_now) optimizer_->count_replayed_step();
  step.loss = graph_loss_.clone();  // the next replay overwrites the graph's own
  if (graph_correct_.defined()) step.correct = graph_correct_.clone();
  step.learning_rate = optimizer_->lr();
  return true;
}

std::string Trainer::flush_metrics(TrainingSink* sink) {
  if (pending_.empty()) return {};
  std::vector<Tensor> losses, corrects;
  for (const PendingStep& p : pending_) {
    losses.push_back(p.loss.reshape({1}).to(DType::Float32));
    if (p.correct.defined()) corrects.push_back(p.correct.reshape({1}).to(DType::Float32));
  }
  // One copy back, so one wait for the device, for the whole window: the losses, then the
  // correct counts.
  std::vector<Tensor> parts = losses;
  parts.insert(parts.end(), corrects.begin(), corrects.end());
  const std::vector<double> values = cat(parts, 0).to_vector<double>();
  const std::vector<double> loss_values(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(losses.size()));
  const std::vector<double> correct_values(values.begin() + static_cast<std::ptrdiff_t>(losses.size()), values.end());
  raise_deferred_errors();  // the device is idle now: checks queued by the steps cost nothing
  const double seconds = std::max(seconds_now() - window_start_, 1e-9);
  double window_samples = 0;
  for (const PendingStep& p : pending_) window_samples += p.samples;

  DeviceMemoryStats memory;
  if (!options_.device.is_cpu()) memory = memory_stats(options_.device);

  std::string failure;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const PendingStep& p = pending_[i];
    const double loss_value = loss_values[i];
    if (!std::isfinite(loss_value)) {
      failure = "loss became " + std::string(std::isnan(loss_value) ? "NaN" : "infinite") + " at step " +
                std::to_string(p.global_step) + " (epoch " + std::to_string(p.epoch + 1) + ", batch " +
                std::to_string(p.batch + 1) + "); try a lower learning rate or gradient clipping";
      break;
    }
    const double correct = correct_values.empty() ? 0 : correct_values[i];
    epoch_sums_.loss += loss_value * p.samples;
    epoch_sums_.correct += correct;
    epoch_sums_.samples += p.samples;
    if (sink) {
      StepMetrics m;
      m.epoch = p.epoch;
      m.batch = p.batch;
      m.batches_per_epoch = p.batches_per_epoch;
      m.global_step = p.global_step;
      m.loss = loss_value;
      m.accuracy = options_.classification ? correct / p.samples : 0;
      m.learning_rate = p.learning_rate;
      // Over the window: per step, the host only queues work on a device.
      m.samples_per_second = window_samples / seconds;
      m.device_memory_allocated = static_cast<double>(memory.allocated_bytes);
      m.device_memory_reserved = static_cast<double>(memory.reserved_bytes);
      sink->on_step(m);
    }
  }
  pending_.clear();
  window_start_ = seconds_now();
  return failure;
}

EpochMetrics Trainer::evaluate(data::DataLoader& loader) { return evaluate(loader, nullptr); }

EpochMetrics Trainer::evaluate(data::DataLoader& loader, ValidationReport* report) {
  const bool was_training = model_->is_training();
  model_->eval();
  NoGradGuard ng;
  // Each batch's values (loss, correct, top-k hits) stay on the device and are read back
  // together at the end: reading them per batch would make a GPU wait for every batch. The
  // sums are then taken on the host in double, as before.
  std::vector<Tensor> per_batch;
  std::vector<double> sizes;
  ReportCollector collector(options_.validation_samples);
  AutocastGuard autocast(options_.bf16_autocast);
  for (const data::Batch& host_batch : loader) {
    const data::Batch b = on_device(host_batch, options_.device);
    Tensor out = model_->forward(b.inputs);
    sizes.push_back(static_cast<double>(b.inputs.size(0)));
    std::vector<Tensor> values = {options_.loss(out, b.targets).to(DType::Float32).reshape({})};
    if (options_.classification) {
      values.push_back(correct_on_device(out, b.targets).to(DType::Float32));
      values.push_back(top_k_on_device(out, b.targets, options_.top_k).to(DType::Float32));
      if (report) collector.add(b, out);
    }
    per_batch.push_back(stack(values, 0));
  }
  model_->train(was_training);
  if (report) collector.finish(*report);
  const std::vector<double> read = per_batch.empty() ? std::vector<double>() : stack(per_batch, 0).to_vector<double>();
  const size_t width = options_.classification ? 3 : 1;
  double loss_sum = 0, correct = 0, top_k = 0, samples = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    loss_sum += read[i * width] * sizes[i];
    if (options_.classification) {
      correct += read[i * width + 1];
      top_k += read[i * width + 2];
    }
    samples += sizes[i];
  }
  EpochMetrics m;
  m.has_validation = true;
  m.val_loss = samples > 0 ? loss_sum / samples : 0;
  m.val_accuracy = samples > 0 ? correct / samples : 0;
  m.val_top_k_accuracy = samples > 0 ? top_k / samples : 0;
  return m;
}

void Trainer::save_checkpoint(const std::string& path) const {
  std::map<std::string, Tensor> tensors;
  for (auto& [name, t] : model_->state_dict()) tensors["model." + name] = t;
  for (auto& [name, t] : optimizer_->state_dict().to_tensors("optimizer.")) tensors[name] = t;
  if (scheduler_)
    for (auto& [name, t] : scheduler_->state_dict().to_tensors("scheduler.")) tensors[name] = t;
  std::map<std::string, std::string> meta = {
      {"format", "netloom-checkpoint"},
      {"version", "1"},
      {"epoch", std::to_string(epoch_)},
      {"batch_in_epoch", std::to_string(batch_in_epoch_)},
      {"global_step", std::to_string(global_step_)},
      {"rng_state", default_generator().state()},
      {"best_val_loss", std::to_string(best_val_loss_)},
      {"epochs_without_improvement", std::to_string(epochs_without_improvement_)},
  };
  // The epoch's running sums as exact bit patterns, so a resumed epoch reports the same mean.
  tensors["trainer.epoch_sums"] =
      from_buffer(&epoch_sums_, sizeof(Sums), Shape{3}, DType::Float64);
  tensors["trainer.best_val_loss"] = from_buffer(&best_val_loss_, sizeof(double), Shape{}, DType::Float64);
  save_safetensors(path, tensors, meta);
}

void Trainer::load_checkpoint(const std::string& path) {
  std::map<std::string, std::string> meta;
  std::map<std::string, Tensor> tensors = load_safetensors(path, &meta);
  auto field = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    NL_CHECK(it != meta.end(), path, ": checkpoint metadata lacks '", key, "'");
    return it->second;
  };
  NL_CHECK(meta.count("format") && meta["format"] == "netloom-checkpoint", path,
           ": not a Netloom checkpoint (metadata 'format' missing or different)");
  NL_CHECK(field("version") == "1", path, ": checkpoint version ", field("version"),
           " is newer than this Netloom understands (1)");
  auto integer = [&](const char* key) {
    const std::string& v = field(key);
    try {
      size_t used = 0;
      long long x = std::stoll(v, &used);
      NL_CHECK(used == v.size() && x >= 0, "");
      return static_cast<int64_t>(x);
    } catch (...) {
      fail(path, ": checkpoint metadata '", key, "' is not a non-negative integer: '", v, "'");
    }
  };
  std::map<std::string, Tensor> model_state;
  for (auto& [name, t] : tensors)
    if (name.rfind("model.", 0) == 0) model_state[name.substr(6)] = t;
  model_->load_state_dict(model_state, true);
  optimizer_->load_state_dict(optim::StateDict::from_tensors(tensors, "optimizer."));
  if (scheduler_) scheduler_->load_state_dict(optim::StateDict::from_tensors(tensors, "scheduler."));
  auto sums = tensors.find("trainer.epoch_sums");
  NL_CHECK(sums != tensors.end() && sums->second.dtype() == DType::Float64 && sums->second.numel() == 3, path,
           ": checkpoint tensor 'trainer.epoch_sums' is missing or not float64 [3]");
  auto sv = sums->second.to_vector<double>();
  epoch_sums_ = Sums{sv[0], sv[1], sv[2]};
  auto best = tensors.find("trainer.best_val_loss");
  NL_CHECK(best != tensors.end() && best->second.numel() == 1, path,
           ": checkpoint tensor 'trainer.best_val_loss' is missing");
  best_val_loss_ = best->second.item();
  epoch_ = integer("epoch");
  batch_in_epoch_ = integer("batch_in_epoch");
  global_step_ = integer("global_step");
  epochs_without_improvement_ = integer("epochs_without_improvement");
  default_generator().set_state(field("rng_state"));
}

}  // namespace nl::run
