// Shape inference and validation of a whole graph, as the editor runs it after every edit:
// residual CNNs of 500 to 5,000 nodes. Prints JSON lines with the median time per analysis
// (issue target: well under 50 ms for 2,000 nodes).
#include <cstdio>

#include "bench_common.h"
#include "engine/graph/graph_analysis.h"

using namespace nl;
using namespace nl::graph;

namespace {

// Input → stem → blocks of (Conv, BN, ReLU, Conv, BN, Add(skip), ReLU) → pool → Linear → Output:
// seven nodes per block.
ModelGraph residual_cnn(int blocks) {
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

}  // namespace

int main() {
  for (int blocks : {70, 285, 714}) {
    ModelGraph g = residual_cnn(blocks);
    std::vector<double> times;
    bool errors = false;
    for (int i = 0; i < 15; ++i) {
      double t0 = bench::now_seconds();
      GraphAnalysis a = analyze(g);
      times.push_back(bench::now_seconds() - t0);
      errors |= a.has_errors();
    }
    std::printf("{\"bench\": \"graph_analysis\", \"nodes\": %zu, \"edges\": %zu, \"median_ms\": %.3f, \"errors\": %s}\n",
                g.size(), g.edges().size(), 1e3 * bench::median(times), errors ? "true" : "false");
  }
}
