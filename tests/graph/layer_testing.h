// Shared checks for layer-schema tests: infer a layer on symbolic shapes, build it, run it
// on concrete tensors, and compare what ran with what inference promised.
#pragma once
#include <QtTest/QtTest>

#include <string>
#include <vector>

#include "engine/graph/layer_registry.h"
#include "engine/ops/ops.h"

namespace nl::testing {

// One input of a layer check: its symbolic form (for inference) and the concrete tensor fed
// when the built layer runs. Index inputs (Embedding, targets) pass an int64 tensor.
struct LayerInput {
  graph::TensorInfo info;
  Tensor value;
};

// A float input: symbolic shape from `dims` (-1 = batch "N"), concrete with the batch set.
inline LayerInput float_input(const std::vector<int64_t>& dims, int64_t batch = 3, uint64_t seed = 1) {
  std::vector<int64_t> concrete = dims;
  for (auto& d : concrete)
    if (d < 0) d = batch;
  Generator gen(seed);
  return {graph::TensorInfo{DType::Float32, graph::shape_from_ints(dims)}, randn(Shape(concrete), {}, &gen)};
}

// An index input with values in [0, high).
inline LayerInput index_input(const std::vector<int64_t>& dims, int64_t high, int64_t batch = 3, uint64_t seed = 2) {
  std::vector<int64_t> concrete = dims;
  for (auto& d : concrete)
    if (d < 0) d = batch;
  Generator gen(seed);
  // Uniform [0, high) floored: integer class indices.
  Tensor v = floor(uniform(Shape(concrete), 0, static_cast<double>(high), {}, &gen)).to(DType::Int64);
  return {graph::TensorInfo{DType::Int64, graph::shape_from_ints(dims)}, v};
}

struct LayerCheck {
  std::vector<graph::TensorInfo> outputs;  // inferred
  std::vector<Tensor> values;              // computed
  graph::LayerCost cost;
  int64_t module_params = 0;
};

// Runs inference, cost, build and forward; fails the test (QVERIFY) on any mismatch between
// inferred and actual output shapes/dtypes, or between cost.params and the module's count.
inline LayerCheck check_layer(const std::string& type, const graph::AttrMap& attrs, const std::vector<LayerInput>& in,
                              const graph::LayerRegistry& registry = graph::LayerRegistry::builtin()) {
  LayerCheck result;
  const graph::LayerSchema& schema = registry.get(type);
  std::vector<const graph::TensorInfo*> infos;
  std::vector<Tensor> values;
  for (const auto& i : in) {
    infos.push_back(&i.info);
    values.push_back(i.value);
  }
  graph::LayerContext ctx(schema, attrs, infos);
  try {
    schema.infer(ctx);
  } catch (const graph::LayerError& e) {
    QTest::qFail(("inference failed for " + type + ": " + e.message).c_str(), __FILE__, __LINE__);
    return result;
  }
  result.outputs = ctx.outputs;
  if (schema.cost) result.cost = schema.cost(ctx);
  graph::Runnable runnable = schema.build(ctx);
  if (runnable.module) result.module_params = runnable.module->num_parameters();
  result.values = runnable.forward(values);
  std::string where = type + " " + [&] {
    std::string s;
    for (const auto& [k, v] : attrs) s += k + "=" + graph::attr_value_to_string(v) + " ";
    return s;
  }();
  if (result.values.size() != result.outputs.size()) {
    QTest::qFail((where + ": ran " + std::to_string(result.values.size()) + " outputs, inferred " +
                  std::to_string(result.outputs.size()))
                     .c_str(),
                 __FILE__, __LINE__);
    return result;
  }
  for (size_t o = 0; o < result.values.size(); ++o) {
    const Tensor& v = result.values[o];
    std::vector<int64_t> actual(v.shape().begin(), v.shape().end());
    if (!graph::shape_matches(result.outputs[o].shape, actual) || v.dtype() != result.outputs[o].dtype) {
      QTest::qFail((where + ": output " + std::to_string(o) + " inferred " +
                    graph::shape_to_string(result.outputs[o].shape) + ", ran " + v.shape().str())
                       .c_str(),
                   __FILE__, __LINE__);
      return result;
    }
  }
  if (result.cost.params != result.module_params)
    QTest::qFail((where + ": cost says " + std::to_string(result.cost.params) + " parameters, module has " +
                  std::to_string(result.module_params))
                     .c_str(),
                 __FILE__, __LINE__);
  return result;
}

// The message inference gives for these inputs ("" when it succeeds).
inline std::string inference_error(const std::string& type, const graph::AttrMap& attrs,
                                   const std::vector<graph::TensorInfo>& inputs,
                                   const graph::LayerRegistry& registry = graph::LayerRegistry::builtin()) {
  const graph::LayerSchema& schema = registry.get(type);
  std::vector<const graph::TensorInfo*> infos;
  for (const auto& i : inputs) infos.push_back(&i);
  graph::LayerContext ctx(schema, attrs, infos);
  try {
    schema.infer(ctx);
  } catch (const graph::LayerError& e) {
    return e.message;
  }
  return {};
}

}  // namespace nl::testing
