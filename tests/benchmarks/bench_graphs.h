// Model graphs of a chosen size for the benchmarks (graph analysis, the canvas).
#pragma once
#include <string>

#include "engine/graph/model_graph.h"

namespace nl::bench {

// Input → stem → blocks of (Conv, BN, ReLU, Conv, BN, Add(skip), ReLU) → pool → Linear → Output:
// seven nodes per block.
inline graph::ModelGraph residual_cnn(int blocks) {
  using namespace nl::graph;
  ModelGraph g;
  auto add = [&](const std::string& type, AttrMap attrs = {}) { return g.add_node(type, {}, attrs).value; };
  auto link = [&](NodeId a, NodeId b, int port = 0) { g.connect({{a, 0}, {b, port}}); };
  NodeId x = add("Input", {{"shape", std::vector<int64_t>{-1, 3, 32, 32}}});
  NodeId prev = add("Conv2d", {{"out_channels", int64_t{16}}});
  link(x, prev);
  for (int b = 0; b < blocks; ++b) {
    NodeId c1 = add("Conv2d", {{"out_channels", int64_t{16}}}), n1 = add("BatchNorm2d"), r1 = add("ReLU");
    NodeId c2 = add("Conv2d", {{"out_channels", int64_t{16}}}), n2 = add("BatchNorm2d"), sum = add("Add"), r2 = add("ReLU");
    link(prev, c1), link(c1, n1), link(n1, r1), link(r1, c2), link(c2, n2);
    link(n2, sum, 0), link(prev, sum, 1), link(sum, r2);
    prev = r2;
  }
  NodeId pool = add("GlobalAvgPool2d"), fc = add("Linear", {{"out_features", int64_t{10}}}), out = add("Output");
  link(prev, pool), link(pool, fc), link(fc, out);
  return g;
}

}  // namespace nl::bench
