// Inference latency of an imported ONNX model, as `netloom run` computes it (import → build
// → run without gradients): median of repeated runs at each batch size, one JSON line each.
//
//   bench_onnx_run MODEL.onnx [--batches 1,8] [--threads T] [--repeats R]
//
// Input: the model's first graph input, random normal, with its symbolic batch set to the
// batch size. tests/benchmarks/run_onnx_vs_ort.sh runs it beside ONNX Runtime on the same file.
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/autograd/node.h"
#include "engine/core/generator.h"
#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_import.h"

using namespace nl;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_onnx_run MODEL.onnx [--batches 1,8] [--threads T] [--repeats R]\n");
    return 2;
  }
  std::string path = argv[1];
  std::vector<int64_t> batches = {1, 8};
  int threads = 1, repeats = 20;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--threads") threads = std::atoi(v.c_str());
    if (k == "--repeats") repeats = std::atoi(v.c_str());
    if (k == "--batches") {
      batches.clear();
      for (size_t p = 0; p < v.size();) {
        size_t q = v.find(',', p);
        batches.push_back(std::atoll(v.substr(p, q - p).c_str()));
        p = q == std::string::npos ? v.size() : q + 1;
      }
    }
  }
  omp_set_num_threads(threads);
  try {
    double t0 = bench::now_seconds();
    project::Project p = importers::import_onnx(path);
    run::GraphExecutor executor;
    auto model = executor.build(p.graph);
    model->load_weights(p.weights);
    model->eval();
    double setup_ms = (bench::now_seconds() - t0) * 1e3;
    const graph::Node* input = p.graph.find_by_name(model->input_names().at(0));
    auto dims = std::get<std::vector<int64_t>>(p.graph.attribute(input->id, "shape"));
    Generator gen(7);
    for (int64_t batch : batches) {
      Shape s;
      for (size_t d = 0; d < dims.size(); ++d) s.push_back(dims[d] < 0 ? batch : dims[d]);
      Tensor x = randn(s, {}, &gen);
      NoGradGuard no_grad;
      for (int w = 0; w < 3; ++w) model->run({{input->name, x}});
      std::vector<double> times;
      for (int r = 0; r < repeats; ++r) {
        double start = bench::now_seconds();
        model->run({{input->name, x}});
        times.push_back((bench::now_seconds() - start) * 1e3);
      }
      std::printf(
          "{\"bench\": \"onnx_run\", \"engine\": \"netloom\", \"model\": \"%s\", \"batch\": %ld, \"threads\": %d, "
          "\"median_ms\": %.3f, \"min_ms\": %.3f, \"import_build_ms\": %.1f}\n",
          path.c_str(), static_cast<long>(batch), threads, bench::median(times),
          *std::min_element(times.begin(), times.end()), setup_ms);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_onnx_run: %s\n", e.what());
    return 1;
  }
  return 0;
}
