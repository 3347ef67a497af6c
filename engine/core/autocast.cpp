// bf16 autocast state (see Note [Autocast] in autocast.h).
#include "engine/core/autocast.h"

namespace nl {
namespace {
thread_local bool t_autocast = false;
}  // namespace

AutocastGuard::AutocastGuard(bool enabled) : previous_(t_autocast) { t_autocast = enabled; }
AutocastGuard::~AutocastGuard() { t_autocast = previous_; }

bool autocast_requested() { return t_autocast; }
bool autocast_enabled(Device device) { return t_autocast && device.is_cuda(); }

}  // namespace nl
