// Shape inference and validation of a whole graph, as the editor runs it after every edit:
// residual CNNs of 500 to 5,000 nodes. Prints JSON lines with the median time per analysis
// (issue target: well under 50 ms for 2,000 nodes).
#include <cstdio>

#include "bench_common.h"
#include "bench_graphs.h"
#include "engine/graph/graph_analysis.h"

using namespace nl;
using namespace nl::graph;

int main() {
  for (int blocks : {70, 285, 714}) {
    ModelGraph g = bench::residual_cnn(blocks);
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
