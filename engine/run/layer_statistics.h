// Per-layer weight and gradient statistics of a model after a backward pass: L2 norms and
// histograms, grouped by the model's top-level child modules (for a GraphModel, one per
// graph node). The trainer publishes them every few steps; the dashboard plots them and
// TensorBoard files keep the histograms.
//
//   nl::run::LayerStatisticsEvent e = nl::run::layer_statistics(*model, 30);
//   for (auto& l : e.layers) std::printf("%s |g| = %g\n", l.name.c_str(), l.gradient_norm);
#pragma once
#include <vector>

#include "engine/nn/module.h"
#include "engine/run/training_events.h"

namespace nl::run {

// `buckets` equal-width buckets over the values' range; an empty input gives an empty
// histogram, a constant one a single bucket. Non-finite values are counted in min/max/sum
// as they are and left out of the buckets.
Histogram histogram(const std::vector<float>& values, int buckets);

// Layers in registration order; parameters of a model without children form one layer
// named "model". Layers without parameters are left out. Parameters without a gradient
// count as zero gradient.
LayerStatisticsEvent layer_statistics(const nn::Module& model, int buckets = 30);

}  // namespace nl::run
