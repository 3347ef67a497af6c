// TensorBoard event files from training events (see event_writer.h).
#include "app/tensorboard/event_writer.h"

#include <unistd.h>

#include <chrono>

#include "app/tensorboard/record_io.h"
#include "tensorboard/tensorboard_event.pb.h"  // generated into the build tree
#include "engine/core/error.h"

namespace nl::tensorboard {

namespace {

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void write_event(std::FILE* f, const netloom::tensorboard::Event& e) {
  std::string bytes;
  e.SerializeToString(&bytes);
  write_record(f, bytes);
}

}  // namespace

EventWriter::EventWriter(const std::string& folder) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  const double now = wall_time();
  path_ = folder + "/events.out.tfevents." + std::to_string(static_cast<long long>(now)) + "." + host;
  file_ = std::fopen(path_.c_str(), "wb");
  NL_CHECK(file_, path_, ": cannot create the TensorBoard event file");
  netloom::tensorboard::Event e;
  e.set_wall_time(now);
  e.set_file_version("brain.Event:2");
  write_event(file_, e);
  std::fflush(file_);
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  netloom::tensorboard::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_event(file_, e);
}

void EventWriter::add_histogram(const std::string& tag, const run::Histogram& h, int64_t step) {
  if (h.buckets.empty()) return;  // TensorBoard refuses empty histograms
  netloom::tensorboard::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* p = v->mutable_histo();
  p->set_min(h.min);
  p->set_max(h.max);
  p->set_num(h.count);
  p->set_sum(h.sum);
  p->set_sum_squares(h.sum_squares);
  for (double x : h.bucket_limits) p->add_bucket_limit(x);
  for (double x : h.buckets) p->add_bucket(x);
  write_event(file_, e);
}

void EventWriter::flush() { std::fflush(file_); }

void EventWriter::on_step(const run::StepMetrics& m) {
  last_step_ = m.global_step;
  add_scalar("train/loss", m.loss, m.global_step);
  add_scalar("train/accuracy", m.accuracy, m.global_step);
  add_scalar("train/learning_rate", m.learning_rate, m.global_step);
  add_scalar("train/samples_per_second", m.samples_per_second, m.global_step);
}

void EventWriter::on_epoch(const run::EpochMetrics& m) {
  add_scalar("epoch/train_loss", m.train_loss, last_step_);
  add_scalar("epoch/train_accuracy", m.train_accuracy, last_step_);
  if (m.has_validation) {
    add_scalar("epoch/val_loss", m.val_loss, last_step_);
    add_scalar("epoch/val_accuracy", m.val_accuracy, last_step_);
  }
  flush();
}

void EventWriter::on_layer_statistics(const run::LayerStatisticsEvent& e) {
  add_scalar("gradient_norm/total", e.total_gradient_norm, e.global_step);
  for (const run::LayerStatistics& l : e.layers) {
    add_scalar("gradient_norm/" + l.name, l.gradient_norm, e.global_step);
    add_histogram("weights/" + l.name, l.weights, e.global_step);
    add_histogram("gradients/" + l.name, l.gradients, e.global_step);
  }
}

void EventWriter::on_finished(const run::RunResult&) { flush(); }

}  // namespace nl::tensorboard
