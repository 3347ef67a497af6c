// Hyper-parameter checks shared by the optimisers and schedulers. Messages name the owner,
// the field and the bad value, e.g. "Adam: beta1 must be in [0, 1), got 1 (param group 0)".
#pragma once
#include <cmath>
#include <cstddef>

#include "engine/core/error.h"

namespace nl::optim::detail {

// A finite number >= 0 (NaN fails too).
inline void check_non_negative(const char* owner, const char* field, double v, size_t group) {
  NL_CHECK(std::isfinite(v) && v >= 0, owner, ": ", field, " must be a finite number >= 0, got ", v,
           " (param group ", group, ")");
}

// In [0, 1): a decay rate whose average would never move at 1.
inline void check_decay_rate(const char* owner, const char* field, double v, size_t group) {
  NL_CHECK(v >= 0 && v < 1, owner, ": ", field, " must be in [0, 1), got ", v, " (param group ", group, ")");
}

}  // namespace nl::optim::detail
