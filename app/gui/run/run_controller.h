// The run controller: trains a snapshot of the project (graph, weights, training settings)
// on a worker thread and hands the trainer's events to the UI thread in batches at a
// bounded rate, however fast the steps come. Start, pause, resume, stop (after the step in
// progress), save a checkpoint now, resume from a checkpoint file.
//
//   RunController c;
//   connect(&c, &RunController::eventsArrived, dashboard, &Dashboard::addEvents);
//   c.start({.project = snapshot, .baseDir = folder, .runDir = runFolder});
//
// Note [Event coalescing]: the worker only appends events to a mutex-guarded queue (a
// trainer step never waits on the UI); a timer on the UI thread (30 Hz by default) swaps
// the queue out and emits one eventsArrived per tick. The timer runs only while events wait. The UI thread therefore does one
// bounded piece of work per tick whether the trainer makes ten steps a second or ten
// thousand; what it does with a batch must not grow with the whole run (the dashboard
// decimates what it plots).
//
// Edits to the canvas during a run do not reach it: the run trains the snapshot taken at
// start; edits apply on the next start.
#pragma once
#include <QObject>
#include <QString>
#include <QTimer>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/project/project.h"
#include "engine/run/training_events.h"

namespace nl::run {
class Trainer;
}

namespace nl::app {

// What arrived from the worker since the last tick, in order within each kind.
struct RunEvents {
  std::vector<run::StepMetrics> steps;
  std::vector<run::EpochMetrics> epochs;
  std::vector<run::LayerStatisticsEvent> layers;
  std::optional<run::ValidationReport> validation;  // the latest only
  std::vector<std::string> messages;
  std::optional<run::RunResult> finished;
  bool empty() const {
    return steps.empty() && epochs.empty() && layers.empty() && !validation && messages.empty() && !finished;
  }
};

// What a run needs, fixed at start.
struct RunRequest {
  project::Project project;          // the snapshot to train (graph, weights, settings)
  QString baseDir;                    // relative dataset and checkpoint paths start here
  QString runDir;  // metrics.csv, TensorBoard events, result.json, model.netloom (trained); empty: none written
  QString resumeCheckpoint;           // continue from this checkpoint file; empty: from the start
  bool continueFromWeights = false;   // start from the project's weights rather than fresh ones
  int64_t layerStatisticsEvery = 10;  // steps between per-layer norms/histograms
  int64_t validationSamples = 16;
};

class RunController : public QObject {
  Q_OBJECT

 public:
  enum class State { Idle, Preparing, Running, Paused, Stopping, Finished };
  Q_ENUM(State)

  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;  // stops a run and waits for its step to end

  // Starts a run on the worker thread; false (and nothing changes) while one is running.
  bool start(RunRequest request);
  void pause();
  void resume();
  // Ends the run after the step in progress; the run finishes with status "stopped".
  void stop();
  // Saves a checkpoint at the next step boundary; "checkpoint saved: PATH" arrives as a message.
  void saveCheckpoint(const QString& path);

  State state() const { return state_; }
  bool isActive() const { return state_ == State::Preparing || state_ == State::Running || state_ == State::Paused ||
                                 state_ == State::Stopping; }
  const RunRequest& request() const { return request_; }
  // The last run's result and trained weights (CPU), valid once finished() was emitted.
  const run::RunResult& result() const { return result_; }
  const std::map<std::string, Tensor>& trainedWeights() const { return trained_weights_; }
  // Class names of the run's dataset (empty for regression or unnamed classes), set once the
  // data is loaded.
  std::vector<std::string> classNames() const;

  // Optimiser steps the worker has reported so far in this run (read from any thread; it
  // leads what the UI has been shown).
  int64_t stepsTaken() const { return steps_taken_.load(); }
  // stepsTaken() read just after the last stop() set the stop flag: the run ends at most one
  // step (the one in flight) later.
  int64_t stepsAtStopRequest() const { return steps_at_stop_; }
  // Event batches delivered so far (for tests of the coalescing).
  int64_t deliveries() const { return deliveries_; }

  // The sink the worker's trainer publishes to; events pushed here from any thread reach
  // eventsArrived like the trainer's own (the coalescing test floods it).
  run::TrainingSink& eventSink();
  // Ticks per second at which events are handed to the UI thread (default 30).
  void setDeliveryRate(int per_second);

 signals:
  void stateChanged(nl::app::RunController::State state);
  void eventsArrived(const nl::app::RunEvents& events);
  void finished(const nl::run::RunResult& result);

 private:
  class QueueSink;
  void deliver();
  void scheduleDelivery();
  void setState(State s);
  void work();  // the worker thread's body

  State state_ = State::Idle;
  RunRequest request_;
  std::unique_ptr<QueueSink> sink_;
  QTimer timer_;
  std::thread worker_;

  // Shared with the worker.
  mutable std::mutex mutex_;
  run::Trainer* trainer_ = nullptr;  // guarded by mutex_; set while fit() may run
  std::atomic<bool> stop_requested_{false}, pause_requested_{false};
  std::atomic<int64_t> steps_taken_{0};
  int64_t deliveries_ = 0;
  int64_t steps_at_stop_ = 0;
  std::vector<std::string> class_names_;  // guarded by mutex_
  run::RunResult result_;
  std::map<std::string, Tensor> trained_weights_;
  std::map<std::string, Tensor> worker_weights_;  // guarded by mutex_: handed over on finish
};

const char* run_state_name(RunController::State s);

}  // namespace nl::app
