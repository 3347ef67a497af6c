// The synthetic sine-frequency sequence set.
#include "engine/data/synthetic_sequences.h"

#include <cmath>
#include <numbers>
#include <string>

#include "engine/core/error.h"

namespace nl::data {

std::shared_ptr<TensorDataset> make_sequences(const SequencesOptions& o) {
  NL_CHECK(o.samples >= 1, "make_sequences: samples must be at least 1, got ", o.samples);
  NL_CHECK(o.classes >= 2 && o.classes <= 8, "make_sequences: classes must be 2 to 8, got ", o.classes);
  NL_CHECK(o.length >= 4 * o.classes && o.length <= 100000, "make_sequences: length must be at least 4 × classes (",
           4 * o.classes, ") and at most 100000, got ", o.length);
  NL_CHECK(o.features >= 1 && o.features <= 1024, "make_sequences: features must be 1 to 1024, got ", o.features);
  NL_CHECK(std::isfinite(o.noise) && o.noise >= 0, "make_sequences: noise must be a number >= 0, got ", o.noise);

  Tensor inputs = Tensor::empty({o.samples, o.length, o.features});
  Tensor targets = Tensor::empty({o.samples}, DType::Int64);
  float* x = inputs.data<float>();
  int64_t* y = targets.data<int64_t>();
  Generator gen(o.seed);
  constexpr double kTwoPi = 2 * std::numbers::pi;
  for (int64_t i = 0; i < o.samples; ++i) {
    const int64_t k = i % o.classes;
    y[i] = k;
    const double cycles = (k + 1) * (0.9 + 0.2 * gen.next_double());
    const double amplitude = 0.5 + gen.next_double();
    for (int64_t f = 0; f < o.features; ++f) {
      const double phase = kTwoPi * gen.next_double();
      for (int64_t t = 0; t < o.length; ++t) {
        const double v = amplitude * std::sin(kTwoPi * cycles * t / o.length + phase) + o.noise * gen.next_normal();
        x[(i * o.length + t) * o.features + f] = static_cast<float>(v);
      }
    }
  }
  std::vector<std::string> names;
  for (int64_t k = 0; k < o.classes; ++k) names.push_back(std::to_string(k + 1) + (k ? " cycles" : " cycle"));
  return std::make_shared<TensorDataset>(inputs, targets, std::move(names));
}

}  // namespace nl::data
