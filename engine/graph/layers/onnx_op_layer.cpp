// The OnnxOp layer: an ONNX node with no Netloom layer of its own, kept as the file had it
// (op type, attributes, constant inputs) so an imported model stays whole, editable and
// exportable; it runs through the generic op table (Note [Generic ONNX ops] in
// engine/graph/onnx_ops/onnx_op.h). An op the table lacks still imports and shows, and
// shape inference names it as the reason the model cannot run.
#include <memory>
#include <sstream>

#include "engine/core/error.h"
#include "engine/graph/layer_registry.h"
#include "engine/graph/onnx_ops/onnx_op.h"

namespace nl::graph {

namespace {

enum class InputKind { Port, Const, Absent };

std::vector<InputKind> read_layout(const LayerContext& ctx, size_t connected) {
  const std::string& text = ctx.text("inputs");
  std::vector<InputKind> out;
  if (text.empty()) {
    out.assign(connected, InputKind::Port);
    return out;
  }
  std::stringstream ss(text);
  std::string token;
  while (std::getline(ss, token, ',')) {
    if (token == "port") out.push_back(InputKind::Port);
    else if (token == "const") out.push_back(InputKind::Const);
    else if (token.empty()) out.push_back(InputKind::Absent);
    else ctx.fail("inputs: unknown entry '" + token + "' (port, const or empty)");
  }
  if (!text.empty() && text.back() == ',') out.push_back(InputKind::Absent);
  return out;
}

std::string key(size_t j, const char* what) { return "in" + std::to_string(j) + what; }

const std::vector<int64_t>* ints_attr(const AttrMap& a, const std::string& name) {
  auto it = a.find(name);
  return it == a.end() ? nullptr : std::get_if<std::vector<int64_t>>(&it->second);
}

// A constant input: integer constants live in attributes, float ones are the node's weights.
struct ConstInput {
  size_t position = 0;
  TensorInfo info;
  const std::vector<int64_t>* values = nullptr;  // integer constants
};

std::vector<ConstInput> const_inputs(const LayerContext& ctx, const std::vector<InputKind>& layout) {
  std::vector<ConstInput> out;
  for (size_t j = 0; j < layout.size(); ++j) {
    if (layout[j] != InputKind::Const) continue;
    const std::vector<int64_t>* shape = ints_attr(ctx.attrs(), key(j, ".shape"));
    if (!shape) ctx.fail("constant input " + std::to_string(j) + " has no '" + key(j, ".shape") + "' attribute");
    ConstInput c;
    c.position = j;
    for (int64_t d : *shape) c.info.shape.push_back(Dim::known(d));
    c.values = ints_attr(ctx.attrs(), key(j, ".value"));
    if (c.values) {
      int64_t numel = 1;
      for (int64_t d : *shape) numel *= d;
      if (static_cast<int64_t>(c.values->size()) != numel)
        ctx.fail(key(j, ".value") + " holds " + std::to_string(c.values->size()) + " values for shape " +
                 shape_to_string(c.info.shape));
      auto dt = ctx.attrs().find(key(j, ".dtype"));
      bool is_bool = dt != ctx.attrs().end() && std::holds_alternative<int64_t>(dt->second) &&
                     std::get<int64_t>(dt->second) == 9;
      c.info.dtype = is_bool ? DType::Bool : DType::Int64;
    } else if (auto dt = ctx.attrs().find(key(j, ".dtype")); dt != ctx.attrs().end()) {
      // A held tensor of another element type (ONNX numbering): its dtype, int64 for the
      // integer types Netloom widens.
      int64_t onnx_type = std::holds_alternative<int64_t>(dt->second) ? std::get<int64_t>(dt->second) : 7;
      c.info.dtype = onnx_type == 1    ? DType::Float32
                     : onnx_type == 2  ? DType::UInt8
                     : onnx_type == 10 ? DType::Float16
                     : onnx_type == 16 ? DType::BFloat16
                     : onnx_type == 11 ? DType::Float64
                     : onnx_type == 9  ? DType::Bool
                                       : DType::Int64;
    }
    out.push_back(c);
  }
  return out;
}

const onnx_ops::OpImpl& require_op(const LayerContext& ctx) {
  const std::string& domain = ctx.text("domain");
  const std::string& op = ctx.text("op_type");
  if (!domain.empty() && domain != "ai.onnx")
    ctx.fail("ONNX op '" + op + "' of domain '" + domain + "' cannot run in Netloom");
  const onnx_ops::OpImpl* impl = onnx_ops::find(op);
  if (!impl)
    ctx.fail("ONNX op '" + op +
             "' has no Netloom implementation yet: the node can be viewed, edited and exported, but the model "
             "cannot run until it is replaced");
  return *impl;
}

void infer_onnx_op(LayerContext& ctx) {
  const onnx_ops::OpImpl& impl = require_op(ctx);
  std::vector<InputKind> layout = read_layout(ctx, ctx.num_inputs());
  std::vector<ConstInput> consts = const_inputs(ctx, layout);
  std::vector<onnx_ops::InferInput> in;
  size_t slot = 0, c = 0;
  for (size_t j = 0; j < layout.size(); ++j) {
    onnx_ops::InferInput i;
    if (layout[j] == InputKind::Port) {
      i.info = &ctx.input(slot++);
    } else if (layout[j] == InputKind::Const) {
      i.info = &consts[c].info;
      i.value = consts[c].values;
      ++c;
    }
    in.push_back(i);
  }
  for (; slot < ctx.num_inputs(); ++slot)
    if (ctx.has_input(slot)) ctx.fail("input slot " + std::to_string(slot) + " is connected but not used", static_cast<int>(slot));
  auto outputs = static_cast<int>(ctx.integer("num_outputs"));
  try {
    onnx_ops::InferArgs args(ctx.attrs(), ctx.text("op_type"), ctx.integer("opset"), std::move(in), outputs);
    std::vector<TensorInfo> out = impl.infer(args);
    if (static_cast<int>(out.size()) < outputs)
      ctx.fail(ctx.text("op_type") + " gives " + std::to_string(out.size()) + " outputs, not " + std::to_string(outputs));
    out.resize(static_cast<size_t>(outputs));
    ctx.outputs = std::move(out);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

// The node's float constants as parameters (several values: weights a fine-tune may train) or
// buffers (a single value such as an epsilon), named "in<j>" in the state dict.
class OnnxOpModule : public nn::Module {
 public:
  std::string type_name() const override { return "OnnxOp"; }
  std::map<size_t, Tensor> constants;
  void hold(size_t position, Tensor t) {
    Tensor& slot = constants[position] = std::move(t);
    if (slot.numel() > 1 && slot.dtype() == DType::Float32)
      register_parameter("in" + std::to_string(position), slot);
    else
      register_buffer("in" + std::to_string(position), slot);
  }
};

Runnable build_onnx_op(const LayerContext& ctx) {
  const onnx_ops::OpImpl& impl = require_op(ctx);
  std::vector<InputKind> layout = read_layout(ctx, ctx.num_inputs());
  std::vector<ConstInput> consts = const_inputs(ctx, layout);
  auto module = std::make_shared<OnnxOpModule>();
  std::map<size_t, Tensor> int_constants;
  for (const ConstInput& c : consts) {
    Shape s;
    for (const Dim& d : c.info.shape) s.push_back(d.size);
    if (c.values)
      int_constants[c.position] = tensor(*c.values, s).to(c.info.dtype);
    else
      module->hold(c.position, zeros(s, {.dtype = c.info.dtype}));
  }
  AttrMap attrs = ctx.attrs();
  std::string op = ctx.text("op_type");
  int64_t opset = ctx.integer("opset");
  auto outputs = static_cast<int>(ctx.integer("num_outputs"));
  const onnx_ops::OpImpl* fn = &impl;
  OnnxOpModule* m = module.get();
  Runnable r;
  if (!module->constants.empty()) r.module = module;
  r.forward = [=, keep = module](const std::vector<Tensor>& inputs) {
    std::vector<Tensor> full;
    size_t slot = 0;
    for (size_t j = 0; j < layout.size(); ++j) {
      if (layout[j] == InputKind::Port)
        full.push_back(slot < inputs.size() ? inputs[slot++] : Tensor());
      else if (layout[j] == InputKind::Const)
        full.push_back(int_constants.count(j) ? int_constants.at(j) : m->constants.at(j));
      else
        full.push_back(Tensor());
    }
    onnx_ops::RunArgs args(attrs, op, opset, outputs);
    std::vector<Tensor> out = fn->run(args, full);
    NL_CHECK(static_cast<int>(out.size()) >= outputs, op, ": gave ", out.size(), " outputs, expected ", outputs);
    out.resize(static_cast<size_t>(outputs));
    return out;
  };
  return r;
}

}  // namespace

void register_onnx_op_layer(LayerRegistry& r) {
  LayerSchema s;
  s.type = "OnnxOp";
  s.category = "ONNX";
  s.help =
      "An ONNX operator kept as the imported file had it, for ops that have no Netloom layer: its ONNX "
      "attributes are listed below and it exports back as the same op. Common ops (elementwise math, "
      "reductions, shape ops, Conv and pools with any padding …) run; others make the model unrunnable "
      "until replaced.";
  s.inputs = {port("inputs", PortType::Any, true, "The op's data inputs, in ONNX order", true)};
  s.outputs = {port("outputs", PortType::Any)};
  s.attrs = {
      AttrSpec::text("op_type", "Identity", "The ONNX operator (Mul, ReduceMean, Gather …)"),
      AttrSpec::text("domain", "", "The operator's domain; empty for the default ONNX domain"),
      AttrSpec::integer("opset", 17, 1, 30, "The opset version the op's meaning follows"),
      AttrSpec::integer("num_outputs", 1, 1, 64, "How many outputs the op has"),
      AttrSpec::text("inputs", "",
                     "How the ONNX inputs arrive, one entry per position: port (the next connected input), "
                     "const (held by the node), or empty (omitted). Empty: every input is a port."),
  };
  s.open_attributes = true;
  s.num_outputs = [](const AttrMap& a) {
    auto it = a.find("num_outputs");
    return it == a.end() ? 1 : static_cast<int>(std::get<int64_t>(it->second));
  };
  s.infer = infer_onnx_op;
  s.cost = [](const LayerContext& ctx) {
    LayerCost c;
    std::vector<InputKind> layout = read_layout(ctx, ctx.num_inputs());
    for (const ConstInput& k : const_inputs(ctx, layout)) {
      if (k.values) continue;
      int64_t n = 1;
      for (const Dim& d : k.info.shape) n *= d.size;
      if (n > 1) c.params += n;
    }
    return c;
  };
  s.build = build_onnx_op;
  r.add(std::move(s));
}

}  // namespace nl::graph
