// The run controller's worker thread and event queue (see run_controller.h).
#include "app/gui/run/run_controller.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <new>

#include "app/tensorboard/event_writer.h"
#include "engine/core/error.h"
#include "engine/run/metrics_csv.h"
#include "engine/run/training_run.h"

namespace nl::app {

const char* run_state_name(RunController::State s) {
  switch (s) {
    case RunController::State::Idle: return "idle";
    case RunController::State::Preparing: return "preparing";
    case RunController::State::Running: return "running";
    case RunController::State::Paused: return "paused";
    case RunController::State::Stopping: return "stopping";
    case RunController::State::Finished: return "finished";
  }
  return "unknown";
}

// Note [Event coalescing]: appends under a mutex and returns; the UI thread takes the lot.
class RunController::QueueSink : public run::TrainingSink {
 public:
  explicit QueueSink(RunController& c) : controller_(c) {}
  void on_step(const run::StepMetrics& m) override {
    // A stop asked for just before fit() began (which clears the trainer's flag) still lands.
    if (controller_.stop_requested_.load()) {
      std::lock_guard<std::mutex> lock(controller_.mutex_);
      if (controller_.trainer_) controller_.trainer_->request_stop();
    }
    controller_.steps_taken_.store(m.global_step);
    push([&](RunEvents& e) { e.steps.push_back(m); });
  }
  void on_epoch(const run::EpochMetrics& m) override {
    push([&](RunEvents& e) { e.epochs.push_back(m); });
  }
  void on_layer_statistics(const run::LayerStatisticsEvent& s) override {
    push([&](RunEvents& e) { e.layers.push_back(s); });
  }
  void on_validation(const run::ValidationReport& r) override {
    push([&](RunEvents& e) { e.validation = r; });
  }
  void on_message(const std::string& m) override {
    push([&](RunEvents& e) { e.messages.push_back(m); });
  }
  // The trainer reports its end before the worker has written the run folder's last files;
  // the result is held until work() releases it, so the UI thread's join never waits.
  void on_finished(const run::RunResult& r) override {
    std::lock_guard<std::mutex> lock(mutex_);
    held_ = r;
  }
  void release_finished() {
    std::optional<run::RunResult> r;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      r = std::move(held_);
      held_.reset();
    }
    if (r) push([&](RunEvents& e) { e.finished = *r; });
  }
  RunEvents take() {
    std::lock_guard<std::mutex> lock(mutex_);
    RunEvents out = std::move(pending_);
    pending_ = RunEvents{};
    return out;
  }

 private:
  // The first event after a delivery asks the UI thread to deliver one interval later; the
  // rest only append. So the UI thread sees at most one request per interval.
  template <class F>
  void push(F&& add) {
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      was_empty = pending_.empty();
      add(pending_);
    }
    if (was_empty) {
      RunController* c = &controller_;
      QMetaObject::invokeMethod(c, [c] { c->scheduleDelivery(); }, Qt::QueuedConnection);
    }
  }

  RunController& controller_;
  std::mutex mutex_;
  RunEvents pending_;
  std::optional<run::RunResult> held_;
};

RunController::RunController(QObject* parent) : QObject(parent), sink_(std::make_unique<QueueSink>(*this)) {
  timer_.setSingleShot(true);
  timer_.setInterval(1000 / 30);
  connect(&timer_, &QTimer::timeout, this, &RunController::deliver);
}

RunController::~RunController() {
  stop_requested_.store(true);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (trainer_) trainer_->request_stop();
  }
  if (worker_.joinable()) worker_.join();
}

run::TrainingSink& RunController::eventSink() { return *sink_; }

void RunController::setDeliveryRate(int per_second) { timer_.setInterval(1000 / std::max(1, per_second)); }

std::vector<std::string> RunController::classNames() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return class_names_;
}

void RunController::scheduleDelivery() {
  if (!timer_.isActive()) timer_.start();
}

void RunController::setState(State s) {
  if (s == state_) return;
  state_ = s;
  emit stateChanged(s);
}

bool RunController::start(RunRequest request) {
  if (isActive()) return false;
  if (worker_.joinable()) worker_.join();
  request_ = std::move(request);
  stop_requested_.store(false);
  pause_requested_.store(false);
  steps_taken_.store(0);
  sink_->take();  // nothing of an earlier run (or a test's flood) leaks into this one
  result_ = run::RunResult{};
  trained_weights_.clear();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    class_names_.clear();
    worker_weights_.clear();
  }
  setState(State::Preparing);
  worker_ = std::thread([this] { work(); });
  return true;
}

void RunController::pause() {
  if (state_ != State::Running && state_ != State::Preparing) return;
  pause_requested_.store(true);
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->set_paused(true);
  setState(State::Paused);
}

void RunController::resume() {
  if (state_ != State::Paused) return;
  pause_requested_.store(false);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (trainer_) trainer_->set_paused(false);
  }
  setState(State::Running);
}

void RunController::stop() {
  if (!isActive()) return;
  stop_requested_.store(true);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (trainer_) trainer_->request_stop();
  }
  steps_at_stop_ = steps_taken_.load();
  setState(State::Stopping);
}

void RunController::saveCheckpoint(const QString& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->request_checkpoint(path.toStdString());
  else sink_->on_message("checkpoint not saved: no run in progress");
}

void RunController::work() {
  run::RunResult result;
  run::SinkFanout sinks;
  sinks.add(sink_.get());
  std::unique_ptr<run::MetricsCsvWriter> csv;
  std::unique_ptr<tensorboard::EventWriter> events;
  try {
    const std::string run_dir = request_.runDir.toStdString();
    if (!run_dir.empty()) {
      QDir().mkpath(request_.runDir);
      csv = std::make_unique<run::MetricsCsvWriter>(run_dir + "/metrics.csv");
      events = std::make_unique<tensorboard::EventWriter>(run_dir);
      sinks.add(csv.get());
      sinks.add(events.get());
    }
    run::TrainingRunOptions options;
    options.base_dir = request_.baseDir.toStdString();
    options.device = run::device_from_setting(request_.project.training.device);
    options.continue_from_weights = request_.continueFromWeights;
    options.layer_statistics_every = request_.layerStatisticsEvery;
    options.validation_samples = request_.validationSamples;
    // A relative checkpoint folder belongs beside the project, like the dataset paths.
    const std::string& dir = request_.project.training.checkpoint_dir;
    if (!dir.empty() && QDir::isRelativePath(QString::fromStdString(dir)))
      options.checkpoint_dir = QDir(request_.baseDir).filePath(QString::fromStdString(dir)).toStdString();
    if (!options.checkpoint_dir.empty()) QDir().mkpath(QString::fromStdString(options.checkpoint_dir));
    run::GraphExecutor executor;
    auto prepared = run::prepare_training_run(request_.project, executor, options);
    if (!request_.resumeCheckpoint.isEmpty()) {
      prepared->trainer->load_checkpoint(request_.resumeCheckpoint.toStdString());
      sinks.on_message("resumed from " + request_.resumeCheckpoint.toStdString() + " at epoch " +
                       std::to_string(prepared->trainer->epoch() + 1) + ", step " +
                       std::to_string(prepared->trainer->global_step()));
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      class_names_ = prepared->data.class_names;
      if (class_names_.empty())
        for (int64_t c = 0; c < prepared->data.num_classes; ++c) class_names_.push_back(std::to_string(c));
      trainer_ = prepared->trainer.get();
      trainer_->set_paused(pause_requested_.load());
    }
    if (stop_requested_.load()) {
      result.status = run::RunStatus::Stopped;
      result.message = "stopped before the first step";
      sinks.on_finished(result);
    } else {
      result = prepared->trainer->fit(*prepared->train_loader, prepared->val_loader.get(), &sinks);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      trainer_ = nullptr;
    }
    prepared->model->to(Device::cpu());
    std::map<std::string, Tensor> weights;
    for (auto& [name, t] : prepared->model->state_dict()) weights[name] = t.clone();
    // The run folder keeps the trained model, so closing without saving loses no run.
    if (!run_dir.empty() && result.status != run::RunStatus::Failed) {
      project::Project trained = request_.project;
      trained.weights = weights;
      try {
        project::save_project(trained, run_dir + "/model.netloom");
      } catch (const std::exception& e) {
        sinks.on_message(std::string("trained model not kept in the run folder: ") + e.what());
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    worker_weights_ = std::move(weights);
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      trainer_ = nullptr;
    }
    result = run::RunResult{};
    result.status = run::RunStatus::Failed;
    result.message = dynamic_cast<const std::bad_alloc*>(&e)
                         ? "out of memory: the model or a batch does not fit; try a smaller batch size"
                         : e.what();
    sinks.on_finished(result);
  }
  if (!request_.runDir.isEmpty()) {
    QFile f(QDir(request_.runDir).filePath("result.json"));
    if (f.open(QIODevice::WriteOnly)) {
      QJsonObject o{{"status", run::run_status_name(result.status)},
                    {"message", QString::fromStdString(result.message)},
                    {"epochs_completed", qint64(result.epochs_completed)},
                    {"global_step", qint64(result.global_step)}};
      f.write(QJsonDocument(o).toJson());
    }
  }
  sink_->release_finished();
}

void RunController::deliver() {
  RunEvents events = sink_->take();
  if (events.empty()) return;
  std::optional<run::RunResult> done = events.finished;
  ++deliveries_;
  if (!events.steps.empty() && state_ == State::Preparing) setState(State::Running);
  emit eventsArrived(events);
  if (done) {
    if (worker_.joinable()) worker_.join();
    result_ = *done;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      trained_weights_ = std::move(worker_weights_);
      worker_weights_.clear();
    }
    setState(State::Finished);
    emit finished(result_);
  }
}

}  // namespace nl::app
