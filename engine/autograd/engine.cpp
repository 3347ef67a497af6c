// The backward engine: walks the recorded graph by dependency count, validates every
// gradient against the edge it flows along, sums broadcast gradients back to their input's
// shape, and accumulates into leaves. See Note [Autograd design] in node.h.
#include <vector>

#include "engine/autograd/node.h"
#include "engine/ops/elementwise.h"

namespace nl {
namespace {
thread_local bool t_grad_enabled = true;

// Gradients flowing into a leaf or into a node's buffer: summed out of place, because the
// same gradient tensor may have been handed to several edges.
Tensor accumulate(const Tensor& existing, const Tensor& incoming) {
  return existing.defined() ? add(existing, incoming) : incoming;
}

// Checks (and where broadcasting explains it, reduces) a gradient for `edge`.
Tensor validate(const Node& producer, size_t index, const Edge& edge, Tensor g) {
  NL_CHECK(g.dtype() == edge.dtype, "backward of ", producer.name(), ": gradient for input ", index, " has dtype ",
           dtype_name(g.dtype()), " but the input is ", dtype_name(edge.dtype));
  NL_CHECK(g.device() == edge.device, "backward of ", producer.name(), ": gradient for input ", index, " is on ",
           g.device().str(), " but the input is on ", edge.device.str());
  if (g.shape() != edge.shape) {
    // Broadcasting is undone here, and only here: the gradient of a broadcast result is
    // summed over the dimensions the input was expanded along.
    bool broadcastable = g.dim() >= edge.shape.size();
    for (int i = 0; broadcastable && i < edge.shape.size(); ++i) {
      int64_t gs = g.shape()[g.dim() - edge.shape.size() + i];
      broadcastable = edge.shape[i] == gs || edge.shape[i] == 1;
    }
    NL_CHECK(broadcastable, "backward of ", producer.name(), ": gradient for input ", index, " has shape ",
             g.shape().str(), " but the input has shape ", edge.shape.str());
    g = sum_to(g, edge.shape);
  }
  return g;
}
}  // namespace

// Note [Iterative graph release]: when the last reference to a node goes, its edges (and
// the tensors its backward rule saved) drop theirs, which may free the next node, and so on
// down the chain. Instead of recursing, nodes whose last reference is being dropped are
// parked in a per-thread list and freed by the outermost release, one at a time.
void release_node_iteratively(std::shared_ptr<Node>&& node) {
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  if (!node) return;
  if (node.use_count() > 1) {
    node.reset();
    return;
  }
  pending.push_back(std::move(node));
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // its destructor may park more nodes
  }
  draining = false;
}

Node::~Node() {
  for (Edge& e : edges) release_node_iteratively(std::move(e.fn));
}

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

[[noreturn]] void fail_released(const char* node_name) {
  fail("backward through ", node_name,
       " a second time: its saved tensors were freed after the first backward; pass retain_graph = true "
       "to the first call if you need to backward twice");
}

Edge gradient_edge(const Tensor& t) {
  Edge e{nullptr, t.shape(), t.dtype(), t.device()};
  if (!t.requires_grad()) return e;
  if (t.grad_fn()) {
    e.fn = t.grad_fn();
    return e;
  }
  TensorImpl* impl = t.impl();
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  e.fn = std::move(acc);
  return e;
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& g) {
  if (!leaf->grad) {
    // Keep the incoming tensor when nothing else can see it; otherwise copy, because
    // optimisers update .grad in place (clipping, weight decay).
    bool sole_owner = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous();
    leaf->grad = sole_owner ? g.impl_ptr() : g.contiguous().clone().impl_ptr();
  } else {
    leaf->grad = add(Tensor(leaf->grad), g).impl_ptr();
  }
  return {};
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NL_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " outputs but ", grads.size(), " gradients");
  NoGradGuard no_grad;  // backward rules use ops; they must not record (no higher-order grads)

  std::vector<Node*> graph;  // every node reached, for counting and for cleanup
  std::vector<Node*> stack;
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    NL_CHECK(r.requires_grad(), "backward: output ", i, " does not require grad (no tensor in its computation "
             "requires grad, or it was computed under NoGradGuard)");
    Edge e = gradient_edge(r);
    root_nodes.push_back(e.fn);
    if (!e.fn->seen) {
      e.fn->seen = true;
      graph.push_back(e.fn.get());
      stack.push_back(e.fn.get());
    }
  }
  // Count, for every node, how many edges lead into it.
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (Edge& e : n->edges) {
      if (!e.fn) continue;
      e.fn->dependencies++;
      if (!e.fn->seen) {
        e.fn->seen = true;
        graph.push_back(e.fn.get());
        stack.push_back(e.fn.get());
      }
    }
  }

  struct Cleanup {
    std::vector<Node*>& graph;
    ~Cleanup() {
      for (Node* n : graph) {
        n->seen = false;
        n->dependencies = 0;
        n->grad_buffer = Tensor();
      }
    }
  } cleanup{graph};

  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    Tensor g = validate(*e.fn, i, e, grads[i]);
    e.fn->grad_buffer = accumulate(e.fn->grad_buffer, g);
  }
  std::vector<Node*> ready;
  for (auto& r : root_nodes)
    if (r->dependencies == 0 && (ready.empty() || std::find(ready.begin(), ready.end(), r.get()) == ready.end()))
      ready.push_back(r.get());

  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    Tensor g = std::move(n->grad_buffer);
    n->grad_buffer = Tensor();
    std::vector<Tensor> input_grads;
    if (g.defined()) input_grads = n->apply(g);
    if (!retain_graph) n->release();
    NL_CHECK(!g.defined() || input_grads.size() == n->edges.size() || n->edges.empty(), "backward of ", n->name(),
             ": returned ", input_grads.size(), " gradients for ", n->edges.size(), " inputs");
    for (size_t i = 0; i < n->edges.size(); ++i) {
      Edge& e = n->edges[i];
      if (!e.fn) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        Tensor gi = validate(*n, i, e, std::move(input_grads[i]));
        e.fn->grad_buffer = accumulate(e.fn->grad_buffer, gi);
      }
      if (--e.fn->dependencies == 0) ready.push_back(e.fn.get());
    }
  }
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  NL_CHECK(defined(), "backward: tensor is undefined");
  Tensor g = gradient;
  if (!g.defined()) {
    NL_CHECK(numel() == 1, "backward: a gradient must be given for a non-scalar output of shape ", shape().str());
    g = ones_like(*this);
  }
  NL_CHECK(g.shape() == shape(), "backward: gradient shape ", g.shape().str(), " differs from the output's ",
           shape().str());
  run_backward({*this}, {g}, retain_graph);
}

}  // namespace nl
