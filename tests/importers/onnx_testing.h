// Helpers the ONNX tests share: building a graph's model with its weights, random inputs
// for every Input node, and comparing graphs, weights and outputs.
#pragma once
#include <QtTest/QtTest>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "engine/core/generator.h"
#include "engine/graph/graph_analysis.h"
#include "engine/ops/ops.h"
#include "engine/run/graph_executor.h"

namespace onnx_testing {

using namespace nl;
using namespace nl::graph;

// The model of `g` in eval mode, with `weights` loaded (missing ones keep their initial values).
inline std::shared_ptr<run::GraphModel> build(const ModelGraph& g, const std::map<std::string, Tensor>& weights) {
  run::GraphExecutor executor;
  auto model = executor.build(g);
  if (!weights.empty()) model->load_weights(weights);
  model->eval();
  return model;
}

// One random tensor per Input node, batch `batch`; int64 inputs get indices below `index_limit`.
inline std::map<std::string, Tensor> random_inputs(const ModelGraph& g, int64_t batch, int64_t index_limit,
                                                   uint64_t seed) {
  Generator gen(seed);
  std::map<std::string, Tensor> out;
  for (NodeId id : g.nodes_of_type("Input")) {
    auto shape = std::get<std::vector<int64_t>>(g.attribute(id, "shape"));
    Shape s;
    for (int64_t d : shape) s.push_back(d < 0 ? batch : d);
    bool index = std::get<std::string>(g.attribute(id, "dtype")) == "int64";
    if (index) {
      Tensor u = uniform(s, 0.0, static_cast<double>(index_limit) - 1e-3, {}, &gen);
      std::vector<float> v = u.to_vector<float>();
      std::vector<int64_t> idx(v.begin(), v.end());
      out[g.node(id).name] = tensor(idx, s);
    } else {
      out[g.node(id).name] = randn(s, {}, &gen);
    }
  }
  return out;
}

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<size_t>(ca.numel()) * ca.element_size()) == 0;
}

// Largest |a - b| relative to max(1, |b|); infinity when shapes differ.
inline double max_rel_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<float> va = a.to(DType::Float32).to_vector<float>(), vb = b.to(DType::Float32).to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double d = std::abs(static_cast<double>(va[i]) - vb[i]) / std::max(1.0, std::abs(static_cast<double>(vb[i])));
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
  }
  return worst;
}

inline bool attrs_equal(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (auto* x = std::get_if<double>(&a)) return std::abs(*x - std::get<double>(b)) <= 1e-6 * std::max(1.0, std::abs(*x));
  return a == b;
}

// Differences between the layers of `a` that a run computes and those of `b`, matched by
// name: type, resolved attributes and edges. Empty when the same.
inline QString structure_diff(const ModelGraph& a, const ModelGraph& b) {
  std::set<NodeId> needed;
  std::vector<NodeId> todo = a.nodes_of_type("Output");
  while (!todo.empty()) {
    NodeId id = todo.back();
    todo.pop_back();
    if (!needed.insert(id).second) continue;
    for (const auto& e : a.edges_into(id)) todo.push_back(e.from.node);
  }
  QStringList diffs;
  if (needed.size() != b.size())
    diffs << QString("layer count %1 vs %2").arg(needed.size()).arg(b.size());
  for (NodeId id : needed) {
    const graph::Node& n = a.node(id);
    const graph::Node* m = b.find_by_name(n.name);
    if (!m) {
      diffs << QString("'%1' missing").arg(n.name.c_str());
      continue;
    }
    if (m->type != n.type) diffs << QString("'%1': type %2 vs %3").arg(n.name.c_str(), n.type.c_str(), m->type.c_str());
    AttrMap ra = a.resolved_attributes(id), rb = b.resolved_attributes(m->id);
    for (const auto& [k, v] : ra)
      if (!rb.count(k) || !attrs_equal(v, rb.at(k)))
        diffs << QString("'%1'.%2: %3 vs %4")
                     .arg(n.name.c_str(), k.c_str(), attr_value_to_string(v).c_str(),
                          rb.count(k) ? attr_value_to_string(rb.at(k)).c_str() : "absent");
  }
  auto edge_set = [](const ModelGraph& g, const std::set<NodeId>* only) {
    std::set<std::string> s;
    for (const auto& e : g.edges())
      if (!only || (only->count(e.from.node) && only->count(e.to.node)))
        s.insert(g.node(e.from.node).name + ":" + std::to_string(e.from.port) + "->" + g.node(e.to.node).name + ":" +
                 std::to_string(e.to.port));
    return s;
  };
  if (edge_set(a, &needed) != edge_set(b, nullptr)) diffs << "edges differ";
  return diffs.join("; ");
}

}  // namespace onnx_testing
