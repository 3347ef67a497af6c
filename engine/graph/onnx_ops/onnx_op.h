// Generic ONNX ops: the table behind the "OnnxOp" layer, which holds any ONNX node that has
// no Netloom layer (Note [Generic ONNX ops]). Each entry infers output shapes on symbolic
// shapes and runs the op on tensors through engine ops (so autograd flows through it and a
// model with generic nodes still trains).
//
//   const onnx_ops::OpImpl* op = onnx_ops::find("ReduceMean");
//   std::vector<Tensor> y = op->run(onnx_ops::RunArgs(attrs, "ReduceMean", 13, 1), {x});
//
// Note [Generic ONNX ops]: an OnnxOp node stores the op type, domain and opset it came from,
// its ONNX attributes as node attributes under their ONNX names (ints → Int, floats → Float,
// strings → String, lists → Ints/Floats), and how its ONNX inputs arrive, in `inputs`: one
// comma-separated token per ONNX input position, "port" (the next connected input slot),
// "const" (a constant the node holds) or "" (an omitted optional input). An integer constant at
// position j is held in the attributes "in<j>.value" and "in<j>.shape" (so shape inference
// can read it: Reshape's shape, Unsqueeze's axes); a float constant is the node's weight
// "in<j>" with its shape in "in<j>.shape". Importers write this form; the exporter writes the
// op back as it was.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/graph/attribute.h"
#include "engine/graph/symbolic_shape.h"

namespace nl::graph::onnx_ops {

// A node's ONNX attributes, with ONNX's defaults where absent. Errors name the op.
class OpAttrs {
 public:
  OpAttrs(const AttrMap& attrs, std::string op, int64_t opset) : attrs_(attrs), op_(std::move(op)), opset_(opset) {}
  const std::string& op() const { return op_; }
  int64_t opset() const { return opset_; }
  bool has(const std::string& name) const { return attrs_.count(name) > 0; }
  int64_t i(const std::string& name, int64_t def) const;
  double f(const std::string& name, double def) const;
  std::string s(const std::string& name, const std::string& def) const;
  std::vector<int64_t> ints(const std::string& name, const std::vector<int64_t>& def = {}) const;
  std::vector<double> floats(const std::string& name, const std::vector<double>& def = {}) const;
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const AttrMap& attrs_;
  std::string op_;
  int64_t opset_;
};

// One input as shape inference sees it.
struct InferInput {
  const TensorInfo* info = nullptr;             // null: an omitted optional input
  const std::vector<int64_t>* value = nullptr;  // its values, when it is an integer constant
};

class InferArgs : public OpAttrs {
 public:
  InferArgs(const AttrMap& attrs, std::string op, int64_t opset, std::vector<InferInput> in, int num_outputs)
      : OpAttrs(attrs, std::move(op), opset), in_(std::move(in)), num_outputs_(num_outputs) {}
  size_t num_inputs() const { return in_.size(); }
  bool has_input(size_t k) const { return k < in_.size() && in_[k].info; }
  const TensorInfo& input(size_t k) const;                 // fails naming the position when absent
  const std::vector<int64_t>* value(size_t k) const;       // null unless a known integer constant
  int num_outputs() const { return num_outputs_; }

 private:
  std::vector<InferInput> in_;
  int num_outputs_;
};

class RunArgs : public OpAttrs {
 public:
  RunArgs(const AttrMap& attrs, std::string op, int64_t opset, int num_outputs)
      : OpAttrs(attrs, std::move(op), opset), num_outputs_(num_outputs) {}
  int num_outputs() const { return num_outputs_; }

 private:
  int num_outputs_;
};

struct OpImpl {
  // Output tensors (one per output), or throws nl::Error saying why the op cannot run.
  std::function<std::vector<TensorInfo>(const InferArgs&)> infer;
  // `inputs` has one entry per ONNX input position; an omitted optional input is undefined.
  std::function<std::vector<Tensor>(const RunArgs&, const std::vector<Tensor>& inputs)> run;
};

using OpTable = std::map<std::string, OpImpl>;

// The op of the default ONNX domain named `op_type`, or null when Netloom cannot run it.
const OpImpl* find(const std::string& op_type);
// Every op Netloom runs, sorted (for help text and tests).
std::vector<std::string> supported_ops();

// ---- for the op families (onnx_ops/*.cpp) ----
void register_elementwise_ops(OpTable& t);
void register_shape_ops(OpTable& t);
void register_reduce_ops(OpTable& t);
void register_nn_ops(OpTable& t);
void register_rnn_ops(OpTable& t);
void register_slice_pad_ops(OpTable& t);

// NumPy broadcasting of symbolic shapes; fails when two known sizes differ and neither is 1.
SymShape broadcast_shapes(const OpAttrs& a, const SymShape& x, const SymShape& y);
// `axis` counted from the end when negative; fails when out of range for `rank`.
int64_t normalize_axis(const OpAttrs& a, int64_t axis, int64_t rank);
// The ONNX element type number of a dtype (FLOAT 1, INT64 7, BOOL 9), and back; fails for
// types Netloom does not compute in.
DType dtype_from_onnx(const OpAttrs& a, int64_t onnx_type);
// An int64 tensor narrowed to the integer type `to` with C's modular wrap (uint8: modulo
// 256), as ONNX integer arithmetic overflows; the engine's own conversion is not relied on.
// The result is on x's device.
Tensor wrap_integer(const Tensor& x, DType to);
// Note [Devices of generic ops]: an op computes on the device of its data inputs and puts its
// outputs there. Shape values are the exception: Shape and Size give host tensors, and
// integer constants stay on the host, so shape arithmetic (Shape → Gather → Concat →
// Reshape) never waits for a GPU. When such a host tensor meets device data as an operand
// (Add, Where, Concat …), the op first brings its operands together with same_device; the
// executor does the same for Netloom layers (Note [Host values in a model on a device] in
// engine/run/graph_executor.cpp).
Tensor on_device(const Tensor& t, Device device);  // t itself when already there (or undefined)
// The device of the first defined input not on the CPU, else the CPU.
Device data_device(const std::vector<Tensor>& inputs);
// Every defined input on data_device(inputs).
std::vector<Tensor> same_device(const std::vector<Tensor>& inputs);
// Integer tensor → values.
std::vector<int64_t> int_values(const Tensor& t);
// Pads every dimension by pads[d] before and pads[d + rank] after with `value` (negative
// pads crop), as ONNX Pad in constant mode.
Tensor pad_constant(const Tensor& x, const std::vector<int64_t>& pads, double value);
// x gathered along `axis` at `indices` (any integer dtype, negative indices count from the
// end, on any device), for any dtype of x: index_select for float32 (so gradients flow), a
// copy otherwise; on x's device.
Tensor gather_any(const Tensor& x, int64_t axis, const Tensor& indices);
// A known size, or an unknown one.
Dim dim_of(int64_t size);

}  // namespace nl::graph::onnx_ops
