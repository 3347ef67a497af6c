// Capturing the device work of a training step once and replaying it (CUDA graphs): one
// launch per step instead of hundreds, which is what small models on a GPU are bound by.
//
// Capture records what `work` queues on the device without running it. Memory allocated
// while capturing comes from a pool private to the graph, so its addresses stay valid and
// untouched by other tensors for as long as the graph lives; tensors created during the
// capture (the loss, gradients) keep pointing at the memory each replay rewrites. Anything
// that needs the host mid-step (reading a value, a host → device copy from pageable memory,
// drawing random numbers whose seed would be frozen into the graph) makes the capture fail
// with an nl::Error saying so, and nothing has run.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "engine/core/device.h"

namespace nl {

class CapturedGraph {
 public:
  virtual ~CapturedGraph() = default;
  // Queues the captured work once more on the device's stream (asynchronous).
  virtual void replay() = 0;
};

// Empty when `device` can capture graphs, else why not (the CPU, or no CUDA backend).
std::string graph_capture_blocker(Device device);
// Captures `work`; throws nl::Error when capture is not possible or `work` does something
// a graph cannot hold (then the device state is as before, apart from host-side effects
// of `work` itself).
std::unique_ptr<CapturedGraph> capture_graph(Device device, const std::function<void()>& work);
// True while this thread captures work for `device` (kernels that cannot be replayed
// faithfully, e.g. random numbers, refuse then).
bool is_capturing(Device device);

}  // namespace nl
