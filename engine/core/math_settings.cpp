// Engine-wide numeric settings (see math_settings.h).
#include "engine/core/math_settings.h"

#include <atomic>

namespace nl {
namespace {
// Atomic: the UI thread may flip it while a training thread launches kernels.
std::atomic<bool> g_allow_tf32{true};
}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow, std::memory_order_relaxed); }
bool allow_tf32() { return g_allow_tf32.load(std::memory_order_relaxed); }

}  // namespace nl
