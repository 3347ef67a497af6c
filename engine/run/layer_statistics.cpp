// Per-layer norms and histograms (see layer_statistics.h).
#include "engine/run/layer_statistics.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/autograd/node.h"
#include "engine/ops/ops.h"

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

// Every parameter's values, then its gradient's (zeros where it has none), read back from
// the model's device in one copy when all sit on one device: a GPU then waits once per
// statistics event instead of twice per parameter.
std::vector<std::vector<float>> read_all(const std::vector<Tensor>& tensors) {
  std::vector<std::vector<float>> out(tensors.size());
  bool one_device = true;
  for (const Tensor& t : tensors) one_device = one_device && t.device() == tensors.front().device();
  if (!one_device || tensors.empty()) {
    for (size_t i = 0; i < tensors.size(); ++i) out[i] = tensors[i].to(DType::Float32).to_vector<float>();
    return out;
  }
  std::vector<Tensor> flat;
  for (const Tensor& t : tensors) flat.push_back(t.to(DType::Float32).reshape({-1}));
  const std::vector<float> all = cat(flat, 0).to_vector<float>();
  size_t at = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto n = static_cast<size_t>(tensors[i].numel());
    out[i].assign(all.begin() + static_cast<std::ptrdiff_t>(at), all.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return out;
}

}  // namespace

LayerStatisticsEvent layer_statistics(const nn::Module& model, int buckets) {
  NoGradGuard no_grad;
  // Group parameters by the first part of their dotted name: the top-level child.
  std::vector<std::string> order, layer_of;
  std::vector<Tensor> tensors;  // per parameter: its values, then its gradient (or zeros)
  for (const auto& [name, p] : model.named_parameters()) {
    size_t dot = name.find('.');
    layer_of.push_back(dot == std::string::npos ? std::string("model") : name.substr(0, dot));
    if (std::find(order.begin(), order.end(), layer_of.back()) == order.end()) order.push_back(layer_of.back());
    tensors.push_back(p.detach());
    Tensor g = p.grad();
    tensors.push_back(g.defined() ? g : zeros(p.shape(), {.device = p.device()}));
  }
  const std::vector<std::vector<float>> values = read_all(tensors);
  std::map<std::string, Gathered> groups;
  for (size_t i = 0; i < layer_of.size(); ++i) {
    Gathered& g = groups[layer_of[i]];
    g.weights.insert(g.weights.end(), values[2 * i].begin(), values[2 * i].end());
    g.gradients.insert(g.gradients.end(), values[2 * i + 1].begin(), values[2 * i + 1].end());
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
