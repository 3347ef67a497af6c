// A seeded random number generator (64-bit Mersenne Twister). rand/randn/dropout draw from
// one passed in or from the process-wide default; its state can be saved and restored so a
// resumed training run draws the same numbers as an uninterrupted one.
#pragma once
#include <cstdint>
#include <random>
#include <string>

namespace nl {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) { manual_seed(seed); }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    engine_.seed(seed);
    has_spare_ = false;
  }
  uint64_t seed() const { return seed_; }
  uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 24 random bits, so it is exact in float.
  float next_float() { return (engine_() >> 40) * (1.0f / 16777216.0f); }
  double next_double() { return (engine_() >> 11) * (1.0 / 9007199254740992.0); }
  double next_normal();  // Box–Muller, one spare cached

  std::string state() const;           // serialised engine state
  void set_state(const std::string&);  // throws nl::Error on a malformed state

 private:
  uint64_t seed_ = 0;
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace nl
