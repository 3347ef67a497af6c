// The trainer's loop, evaluation and checkpoints (see trainer.h).
#include "engine/run/trainer.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <thread>

#include "engine/backends/backend.h"
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

double count_correct(const Tensor& logits, const Tensor& target) { return correct_on_device(logits, target).item(); }

// A batch moved to the training device (host → device copies run asynchronously when the
// loader pinned the batch).
data::Batch on_device(data::Batch b, Device device) {
  if (b.inputs.device() != device) b.inputs = b.inputs.to(device);
  if (b.targets.defined() && b.targets.device() != device) b.targets = b.targets.to(device);
  return b;
}

// Targets whose class is among the k largest logits.
double count_top_k(const Tensor& logits, const Tensor& target, int k) {
  NoGradGuard ng;
  int64_t n = logits.size(0), c = logits.size(1);
  auto values = logits.contiguous().to_vector<float>();
  auto labels = target.to_vector<int64_t>();
  double hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    float t = values[i * c + labels[i]];
    int64_t larger = 0;
    for (int64_t j = 0; j < c; ++j) larger += values[i * c + j] > t;
    hits += larger < k;
  }
  return hits;
}

// Adds a batch's predictions to the confusion matrix and keeps its first samples until
// `max_samples` are kept.
void add_to_report(ValidationReport& report, const data::Batch& batch, const Tensor& logits, int64_t max_samples) {
  const int64_t n = logits.size(0), c = logits.size(1);
  if (report.num_classes == 0) {
    report.num_classes = c;
    report.confusion.assign(c * c, 0);
  }
  NL_CHECK(report.num_classes == c, "validation: the model's outputs changed from ", report.num_classes, " to ", c,
           " classes between batches");
  auto predicted = argmax(logits, 1).to_vector<int64_t>();
  auto labels = batch.targets.to(DType::Int64).to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] >= 0 && labels[i] < c) report.confusion[labels[i] * c + predicted[i]] += 1;
  const int64_t keep = std::min<int64_t>(n, max_samples - static_cast<int64_t>(report.samples.size()));
  if (keep <= 0) return;
  Tensor inputs = batch.inputs.to(Device::cpu()).to(DType::Float32).contiguous();
  const int64_t per_sample = n > 0 ? inputs.numel() / n : 0;
  const float* p = inputs.data<float>();
  for (int64_t i = 0; i < keep; ++i) {
    ValidationReport::Sample s;
    for (int d = 1; d < inputs.dim(); ++d) s.shape.push_back(inputs.size(d));
    s.values.assign(p + i * per_sample, p + (i + 1) * per_sample);
    s.label = labels[i];
    s.predicted = predicted[i];
    report.samples.push_back(std::move(s));
  }
}

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

RunResult Trainer::fit(data::DataLoader& train, data::DataLoader* validation, TrainingSink* sink) {
  try {
    return fit_epochs(train, validation, sink);
  } catch (const OutOfMemoryError& e) {
    // The step's tensors are gone with the unwinding; give their cached memory back so a
    // smaller run in this process starts from an empty device.
    pending_.clear();
    if (!options_.device.is_cpu()) empty_cache(options_.device);
    throw OutOfMemoryError("training step " + std::to_string(global_step_ + 1) + " on " + options_.device.str() +
                           ": " + e.what() + " A smaller batch size needs less memory.");
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
      optimizer_->zero_grad();
      Tensor output = model_->forward(batch.inputs);
      Tensor loss = options_.loss(output, batch.targets);
      loss.backward();
      const bool last_of_epoch = batch_in_epoch_ + 1 == batches;
      if (sink && options_.layer_statistics_every > 0 &&
          ((global_step_ + 1) % options_.layer_statistics_every == 0 || last_of_epoch)) {
        LayerStatisticsEvent stats = layer_statistics(*model_);
        stats.global_step = global_step_ + 1;
        sink->on_layer_statistics(stats);
      }
      if (options_.clip_grad_norm > 0) optim::clip_grad_norm_(model_->parameters(), options_.clip_grad_norm);

      PendingStep step;
      step.loss = loss.detach();
      if (options_.classification) step.correct = correct_on_device(output, batch.targets);
      step.samples = static_cast<double>(batch.inputs.size(0));
      step.learning_rate = optimizer_->lr();
      step.epoch = epoch_;
      step.batch = batch_in_epoch_;
      step.batches_per_epoch = batches;
      step.global_step = global_step_ + 1;
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

std::string Trainer::flush_metrics(TrainingSink* sink) {
  if (pending_.empty()) return {};
  std::vector<Tensor> losses, corrects;
  for (const PendingStep& p : pending_) {
    losses.push_back(p.loss.reshape({1}).to(DType::Float32));
    if (p.correct.defined()) corrects.push_back(p.correct.reshape({1}).to(DType::Float32));
  }
  // One wait for the device for the whole window; the second copy finds it idle.
  const std::vector<double> loss_values = cat(losses, 0).to_vector<double>();
  const std::vector<double> correct_values =
      corrects.empty() ? std::vector<double>() : cat(corrects, 0).to_vector<double>();
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
  double loss_sum = 0, correct = 0, top_k = 0, samples = 0;
  for (const data::Batch& host_batch : loader) {
    const data::Batch b = on_device(host_batch, options_.device);
    Tensor out = model_->forward(b.inputs);
    const double n = static_cast<double>(b.inputs.size(0));
    loss_sum += options_.loss(out, b.targets).item() * n;
    if (options_.classification) {
      correct += count_correct(out, b.targets);
      top_k += count_top_k(out, b.targets, options_.top_k);
      if (report) add_to_report(*report, b, out, options_.validation_samples);
    }
    samples += n;
  }
  model_->train(was_training);
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
