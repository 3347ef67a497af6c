// Progress bar and plain-line output for `netloom train`.
#include "app/cli/progress_printer.h"

#include <unistd.h>

#include <algorithm>
#include <string>

namespace nl::app {

namespace {
std::string clock_text(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace

bool is_terminal(std::FILE* f) { return ::isatty(::fileno(f)) == 1; }

ProgressPrinter::ProgressPrinter(std::FILE* out, bool terminal, int64_t epochs)
    : out_(out), terminal_(terminal), epochs_(epochs), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double ProgressPrinter::seconds_since_start() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressPrinter::clear_bar() {
  if (bar_shown_) std::fputs("\r\033[K", out_);
  bar_shown_ = false;
}

void ProgressPrinter::on_step(const run::StepMetrics& m) {
  // An exponential moving average: a single batch's loss jumps too much to read.
  smoothed_loss_ = steps_seen_++ == 0 ? m.loss : 0.9 * smoothed_loss_ + 0.1 * m.loss;
  auto now = std::chrono::steady_clock::now();
  double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  bool last_batch = m.batch + 1 == m.batches_per_epoch;
  if (terminal_ ? since_draw < 0.1 && !last_batch : since_draw < 5.0) return;
  last_draw_ = now;

  double done = static_cast<double>(m.epoch * m.batches_per_epoch + m.batch + 1);
  double total = static_cast<double>(epochs_ * m.batches_per_epoch);
  double elapsed = seconds_since_start();
  double remaining = done > 0 ? elapsed * (total - done) / done : -1;
  if (terminal_) {
    const int width = 24;
    int filled = static_cast<int>(width * (m.batch + 1) / std::max<int64_t>(1, m.batches_per_epoch));
    std::string bar;
    for (int i = 0; i < width; ++i) bar += i < filled ? "\u2588" : "\u2591";
    std::fprintf(out_, "\r\033[Kepoch %lld/%lld %s %lld/%lld  loss %.4f  acc %5.1f%%  %.0f samples/s  ETA %s",
                 static_cast<long long>(m.epoch + 1), static_cast<long long>(epochs_), bar.c_str(),
                 static_cast<long long>(m.batch + 1), static_cast<long long>(m.batches_per_epoch), smoothed_loss_,
                 100 * m.accuracy, m.samples_per_second, clock_text(remaining).c_str());
    bar_shown_ = true;
  } else {
    std::fprintf(out_, "epoch %lld/%lld batch %lld/%lld  loss %.4f  %.0f samples/s  ETA %s\n",
                 static_cast<long long>(m.epoch + 1), static_cast<long long>(epochs_),
                 static_cast<long long>(m.batch + 1), static_cast<long long>(m.batches_per_epoch), smoothed_loss_,
                 m.samples_per_second, clock_text(remaining).c_str());
  }
  std::fflush(out_);
}

void ProgressPrinter::on_epoch(const run::EpochMetrics& m) {
  clear_bar();
  std::fprintf(out_, "epoch %lld/%lld  train loss %.4f  acc %.1f%%", static_cast<long long>(m.epoch + 1),
               static_cast<long long>(epochs_), m.train_loss, 100 * m.train_accuracy);
  if (m.has_validation) std::fprintf(out_, "  |  val loss %.4f  acc %.1f%%", m.val_loss, 100 * m.val_accuracy);
  std::fprintf(out_, "  (%.1f s)\n", m.seconds);
  std::fflush(out_);
}

void ProgressPrinter::on_message(const std::string& m) {
  // The trainer reports its per-epoch checkpoint; one line per epoch of that is noise here
  // (the command names the checkpoint when it finishes).
  if (m.rfind("checkpoint saved", 0) == 0) return;
  clear_bar();
  std::fprintf(out_, "%s\n", m.c_str());
  std::fflush(out_);
}

void ProgressPrinter::on_finished(const run::RunResult& r) {
  clear_bar();
  std::fprintf(out_, "finished: %s after %lld epochs, %lld steps, %s", run::run_status_name(r.status),
               static_cast<long long>(r.epochs_completed), static_cast<long long>(r.global_step),
               clock_text(seconds_since_start()).c_str());
  if (!r.message.empty() && r.status != run::RunStatus::Completed) std::fprintf(out_, " — %s", r.message.c_str());
  std::fputs("\n", out_);
  std::fflush(out_);
}

}  // namespace nl::app
