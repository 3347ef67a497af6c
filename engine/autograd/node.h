// The define-by-run tape: each differentiable op on tensors that require grad records a
// Node whose edges point at the nodes of its inputs.
//
// Note [Autograd design]: a Node has exactly one output (ops with several outputs, such as
// split, record one node per output). `apply` maps the gradient of that output to one
// gradient per edge. An edge remembers the shape, dtype and device of the input it leads
// to; the engine (engine.cpp) checks every gradient against that before passing it on and,
// when the gradient has a broadcast shape, sums it back to the input's shape there — the
// one place broadcasting is undone, so backward rules return gradients of the broadcast
// result and never reduce themselves. Leaves that require grad are reached through an
// AccumulateGrad node that adds into `grad`. Nodes know nothing about kernels: backward
// rules are written with ops, next to their forward in engine/ops/.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace nl {

struct Edge {
  std::shared_ptr<Node> fn;  // null: that input needs no gradient
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
};

// Drops a reference to a node without recursing: a graph of a million chained ops would
// otherwise be freed by a million nested destructors and overflow the stack.
void release_node_iteratively(std::shared_ptr<Node>&& node);

struct Node : std::enable_shared_from_this<Node> {
  virtual ~Node();
  virtual const char* name() const = 0;
  // Gradient of the output → gradients for each edge (undefined tensor = none).
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees saved tensors after a backward pass without retain_graph.
  virtual void release() {}
  virtual bool released() const { return false; }

  std::vector<Edge> edges;

  // Scratch state of the engine during one backward pass (see engine.cpp).
  Tensor grad_buffer;
  int dependencies = 0;
  bool seen = false;
};

// A node whose backward rule is a lambda capturing what it saved. `release` destroys the
// lambda, and with it the saved tensors.
template <class F>
struct LambdaNode final : Node {
  LambdaNode(const char* n, F f) : name_(n), fn_(std::move(f)) {}
  const char* name() const override { return name_; }
  std::vector<Tensor> apply(const Tensor& g) override;
  void release() override { fn_.reset(); }
  bool released() const override { return !fn_.has_value(); }

 private:
  const char* name_;
  std::optional<F> fn_;
};

[[noreturn]] void fail_released(const char* node_name);

template <class F>
std::vector<Tensor> LambdaNode<F>::apply(const Tensor& g) {
  if (!fn_) fail_released(name_);
  return (*fn_)(g);
}

// Adds incoming gradients into a leaf's `grad`.
struct AccumulateGrad final : Node {
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::shared_ptr<TensorImpl> leaf;
};

// ---- Grad mode ------------------------------------------------------------------------
bool grad_enabled();
void set_grad_enabled(bool on);

// Disables recording for its scope (inference, optimiser updates).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// ---- Recording helpers used by ops ----------------------------------------------------
// True when grad mode is on and any input requires grad.
inline bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

// The edge leading to `t`'s gradient (its grad_fn, or its leaf accumulator).
Edge gradient_edge(const Tensor& t);

// Records `fn` as the node producing `out` from `inputs`. `fn(grad)` returns one tensor per
// input, in order (undefined where no gradient flows).
template <class F>
void record(const char* name, Tensor& out, std::initializer_list<const Tensor*> inputs, F fn) {
  auto node = std::make_shared<LambdaNode<F>>(name, std::move(fn));
  node->edges.reserve(inputs.size());
  for (const Tensor* t : inputs) node->edges.push_back(t->defined() ? gradient_edge(*t) : Edge{});
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(node);
}

// Same, for a runtime-sized list of inputs (concat).
template <class F>
void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs, F fn) {
  auto node = std::make_shared<LambdaNode<F>>(name, std::move(fn));
  node->edges.reserve(inputs.size());
  for (const Tensor& t : inputs) node->edges.push_back(gradient_edge(t));
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(node);
}

// Runs backward from `roots` with the given seed gradients.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

}  // namespace nl
