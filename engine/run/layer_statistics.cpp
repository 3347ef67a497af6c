// Per-layer norms and histograms (see layer_statistics.h).
#include "engine/run/layer_statistics.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace nl::run {

Histogram histogram(const std::vector<float>& values, int buckets) {
  Histogram h;
  if (values.empty()) return h;
  buckets = std::max(1, buckets);
  double lo = INFINITY, hi = -INFINITY;
  for (float v : values) {
    h.sum += v;
    h.sum_squares += double(v) * v;
    if (std::isfinite(v)) {
      lo = std::min<double>(lo, v);
      hi = std::max<double>(hi, v);
    }
  }
  h.count = static_cast<double>(values.size());
  if (!std::isfinite(lo)) {  // nothing finite to bucket
    h.min = h.max = NAN;
    return h;
  }
  h.min = lo;
  h.max = hi;
  if (hi <= lo) {
    h.bucket_limits = {hi};
    h.buckets = {static_cast<double>(values.size())};
    return h;
  }
  h.bucket_limits.resize(buckets);
  h.buckets.assign(buckets, 0);
  const double width = (hi - lo) / buckets;
  for (int i = 0; i < buckets; ++i) h.bucket_limits[i] = lo + width * (i + 1);
  h.bucket_limits.back() = hi;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    int b = static_cast<int>((v - lo) / width);
    h.buckets[std::clamp(b, 0, buckets - 1)] += 1;
  }
  return h;
}

namespace {

struct Gathered {
  std::vector<float> weights, gradients;
};

void append(const Tensor& t, std::vector<float>& out) {
  std::vector<float> v = t.to(DType::Float32).to_vector<float>();
  out.insert(out.end(), v.begin(), v.end());
}

}  // namespace

LayerStatisticsEvent layer_statistics(const nn::Module& model, int buckets) {
  // Group parameters by the first part of their dotted name: the top-level child.
  std::vector<std::string> order;
  std::map<std::string, Gathered> groups;
  for (const auto& [name, p] : model.named_parameters()) {
    size_t dot = name.find('.');
    std::string layer = dot == std::string::npos ? std::string("model") : name.substr(0, dot);
    auto [it, fresh] = groups.try_emplace(layer);
    if (fresh) order.push_back(layer);
    append(p.detach(), it->second.weights);
    Tensor g = p.grad();
    if (g.defined()) append(g, it->second.gradients);
    else it->second.gradients.insert(it->second.gradients.end(), p.numel(), 0.0f);
  }
  LayerStatisticsEvent e;
  double total = 0;
  for (const std::string& layer : order) {
    const Gathered& g = groups[layer];
    LayerStatistics s;
    s.name = layer;
    s.weights = histogram(g.weights, buckets);
    s.gradients = histogram(g.gradients, buckets);
    s.weight_norm = std::sqrt(s.weights.sum_squares);
    s.gradient_norm = std::sqrt(s.gradients.sum_squares);
    total += s.gradients.sum_squares;
    e.layers.push_back(std::move(s));
  }
  e.total_gradient_norm = std::sqrt(total);
  return e;
}

}  // namespace nl::run
