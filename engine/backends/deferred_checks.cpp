// The per-thread queue of deferred device checks (deferred_checks.h).
#include "engine/backends/deferred_checks.h"

#include <vector>

namespace nl {
namespace {

constexpr size_t kMaxQueued = 4096;

thread_local bool t_enabled = false;
thread_local std::vector<std::function<void()>> t_queue;

}  // namespace

DeferredChecksGuard::DeferredChecksGuard(bool enabled) : previous_(t_enabled) { t_enabled = enabled; }
DeferredChecksGuard::~DeferredChecksGuard() { t_enabled = previous_; }

bool deferred_checks_enabled() { return t_enabled; }

void defer_check(std::function<void()> check) {
  t_queue.push_back(std::move(check));
  if (t_queue.size() >= kMaxQueued) raise_deferred_errors();
}

void raise_deferred_errors() {
  // Taken out first: a throwing check leaves an empty queue behind, not a half-run one.
  std::vector<std::function<void()>> queue;
  queue.swap(t_queue);
  for (auto& check : queue) check();
}

}  // namespace nl
