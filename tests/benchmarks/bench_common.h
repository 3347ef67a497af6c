// Timing helpers shared by the benchmark programs: a monotonic clock and the median of
// repeated measurements (medians resist the noise of shared machines).
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace nl::bench {

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace nl::bench
