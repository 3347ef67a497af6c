// Tensor closeness for tests, without Qt: shared by the Qt Test suites (tests/engine/
// testing.h) and the plain GPU test harness (tests/gpu/gpu_testing.h).
#pragma once
#include <cmath>
#include <sstream>
#include <string>

#include "engine/core/tensor.h"

namespace nl::testing {

// Empty string when |a - b| <= atol + rtol * |b| elementwise (and shapes match; NaN matches
// NaN, an infinity the same infinity), else a message naming the first offending element.
// Either tensor may be on any device.
inline std::string compare(const Tensor& actual, const Tensor& expected, double rtol = 1e-4, double atol = 1e-5) {
  if (actual.shape() != expected.shape())
    return "shape " + actual.shape().str() + " != expected " + expected.shape().str();
  auto a = actual.to_vector<double>();
  auto b = expected.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) {
    bool both_nan = std::isnan(a[i]) && std::isnan(b[i]);
    bool same_inf = std::isinf(a[i]) && a[i] == b[i];
    if (both_nan || same_inf) continue;
    if (!(std::fabs(a[i] - b[i]) <= atol + rtol * std::fabs(b[i]))) {
      std::ostringstream os;
      os << "element " << i << " of " << a.size() << ": " << a[i] << " vs expected " << b[i] << " (rtol " << rtol
         << ", atol " << atol << ")";
      return os.str();
    }
  }
  return {};
}

}  // namespace nl::testing
