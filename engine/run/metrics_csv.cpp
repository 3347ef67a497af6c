// Metrics CSV writer and sink fan-out.
#include "engine/run/metrics_csv.h"

#include <cerrno>
#include <cstring>

#include "engine/core/error.h"

namespace nl::run {

MetricsCsvWriter::MetricsCsvWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) throw Error(path + ": cannot create the metrics file: " + std::strerror(errno));
  std::fputs("kind,epoch,step,batch,loss,accuracy,learning_rate,samples_per_second,val_loss,val_accuracy,"
             "val_top_k_accuracy,seconds\n",
             file_);
}

MetricsCsvWriter::~MetricsCsvWriter() {
  if (file_) std::fclose(file_);
}

void MetricsCsvWriter::on_step(const StepMetrics& m) {
  std::fprintf(file_, "step,%lld,%lld,%lld,%.9g,%.9g,%.9g,%.6g,,,,\n", static_cast<long long>(m.epoch),
               static_cast<long long>(m.global_step), static_cast<long long>(m.batch), m.loss, m.accuracy,
               m.learning_rate, m.samples_per_second);
}

void MetricsCsvWriter::on_epoch(const EpochMetrics& m) {
  std::fprintf(file_, "epoch,%lld,,,%.9g,%.9g,,,", static_cast<long long>(m.epoch), m.train_loss, m.train_accuracy);
  if (m.has_validation)
    std::fprintf(file_, "%.9g,%.9g,%.9g,", m.val_loss, m.val_accuracy, m.val_top_k_accuracy);
  else
    std::fputs(",,,", file_);
  std::fprintf(file_, "%.6g\n", m.seconds);
  std::fflush(file_);
}

void MetricsCsvWriter::on_finished(const RunResult&) { std::fflush(file_); }

void SinkFanout::on_step(const StepMetrics& m) {
  for (auto* s : sinks_) s->on_step(m);
}
void SinkFanout::on_epoch(const EpochMetrics& m) {
  for (auto* s : sinks_) s->on_epoch(m);
}
void SinkFanout::on_layer_statistics(const LayerStatisticsEvent& e) {
  for (auto* s : sinks_) s->on_layer_statistics(e);
}
void SinkFanout::on_validation(const ValidationReport& r) {
  for (auto* s : sinks_) s->on_validation(r);
}
void SinkFanout::on_message(const std::string& m) {
  for (auto* s : sinks_) s->on_message(m);
}
void SinkFanout::on_finished(const RunResult& r) {
  for (auto* s : sinks_) s->on_finished(r);
}

}  // namespace nl::run
