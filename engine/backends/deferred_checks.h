// Checks a device can only finish after its kernels ran (an index out of range, found by
// the kernel that read it), without making the host wait in the middle of a training step.
//
// Outside a DeferredChecksGuard such a check waits for the device at once and throws from
// the op that failed, as the CPU does. Inside one (the trainer's GPU steps) the op queues
// the check and returns; raise_deferred_errors() — called where the host waits anyway,
// when step metrics are read back — runs the queued checks and throws the first error,
// naming the op, the bad value and its position, as the immediate check would.
#pragma once
#include <functional>

namespace nl {

class DeferredChecksGuard {
 public:
  explicit DeferredChecksGuard(bool enabled);
  ~DeferredChecksGuard();
  DeferredChecksGuard(const DeferredChecksGuard&) = delete;
  DeferredChecksGuard& operator=(const DeferredChecksGuard&) = delete;

 private:
  bool previous_;
};

// Whether checks on this thread are deferred now.
bool deferred_checks_enabled();
// Queues `check` (it throws nl::Error when what it checks went wrong). Past a bound of
// queued checks they are run at once, so a thread that never raises cannot grow the queue.
void defer_check(std::function<void()> check);
// Runs the checks queued on this thread, in order, and throws the first error.
void raise_deferred_errors();

}  // namespace nl
