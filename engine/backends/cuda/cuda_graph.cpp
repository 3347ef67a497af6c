// CUDA graph capture and replay of a device's work (engine/backends/graph_capture.h).
#include <atomic>
#include <functional>
#include <memory>

#include "engine/backends/cuda/cuda_allocator.h"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/backends/graph_capture.h"

namespace nl::cuda {
namespace {

// The device this thread is capturing for, or -1.
thread_local int t_capturing = -1;

class CudaGraph final : public CapturedGraph {
 public:
  CudaGraph(int index, int pool, cudaGraphExec_t exec) : index_(index), pool_(pool), exec_(exec) {}
  ~CudaGraph() override {
    DeviceGuard g(index_, std::nothrow);
    // A replay may still be queued: its memory must not go back to the cache before it ran.
    (void)cudaStreamSynchronize(compute_stream(index_));
    (void)cudaGraphExecDestroy(exec_);
    (void)cudaGetLastError();
    release_graph_pool(index_, pool_);
  }
  void replay() override {
    DeviceGuard g(index_);
    NL_CUDA_CHECK(cudaGraphLaunch(exec_, compute_stream(index_)), "replaying a captured step");
  }

 private:
  int index_, pool_;
  cudaGraphExec_t exec_;
};

}  // namespace

bool is_capturing(int index) { return t_capturing == index; }

std::unique_ptr<CapturedGraph> capture_graph(int index, const std::function<void()>& work) {
  NL_CHECK(t_capturing < 0, "graph capture: this thread is already capturing for cuda:", t_capturing);
  DeviceGuard g(index);
  cudaStream_t stream = compute_stream(index);
  // Work queued before the capture must not end up in it, nor overlap the first replay.
  NL_CUDA_CHECK(cudaStreamSynchronize(stream), "graph capture");
  const int pool = begin_graph_pool(index);
  // Relaxed: the loader's thread keeps allocating pinned memory while the step is captured.
  cudaError_t begun = cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
  if (begun != cudaSuccess) {
    end_graph_pool(index);
    release_graph_pool(index, pool);
    raise_cuda_error(begun, "graph capture", "cudaStreamBeginCapture");
  }
  t_capturing = index;
  cudaGraph_t graph = nullptr;
  try {
    work();
  } catch (...) {
    t_capturing = -1;
    (void)cudaStreamEndCapture(stream, &graph);
    if (graph) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();
    end_graph_pool(index);
    release_graph_pool(index, pool);
    throw;
  }
  t_capturing = -1;
  cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  end_graph_pool(index);
  if (ended != cudaSuccess) {
    // E.g. a host wait inside the step invalidated the capture.
    if (graph) (void)cudaGraphDestroy(graph);
    release_graph_pool(index, pool);
    raise_cuda_error(ended, "graph capture (the step waited for the device or used another stream)",
                     "cudaStreamEndCapture");
  }
  cudaGraphExec_t exec = nullptr;
  cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  (void)cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    release_graph_pool(index, pool);
    raise_cuda_error(made, "graph capture", "cudaGraphInstantiate");
  }
  return std::make_unique<CudaGraph>(index, pool, exec);
}

}  // namespace nl::cuda

namespace nl::cuda {

std::unique_ptr<CapturedGraph> CudaBackend::capture_graph(const std::function<void()>& work) {
  return cuda::capture_graph(index_, work);
}
bool CudaBackend::is_capturing() const { return cuda::is_capturing(index_); }

}  // namespace nl::cuda
