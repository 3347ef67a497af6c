// The layers the exporter writes as several ONNX nodes, in the forms PyTorch's exporter
// writes them (so other tools recognise them, and the importer reads them back whole): GELU,
// LayerNorm before opset 17, GroupNorm, LSTM/GRU (Note [Recurrent export]), MultiheadAttention
// and TransformerEncoderLayer (Note [Attention export]); and generic OnnxOp nodes as the op
// they hold.
#include <onnx/defs/schema.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/ops/movement.h"
#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_exporter.h"

namespace nl::importers::detail {

void Exporter::emit_group_norm(const Node& n, const AttrMap& a) {
  const graph::TensorInfo& x = in_info(n, 0);
  int64_t groups = i(a, "num_groups"), channels = x.shape.at(1).size;
  std::string p = n.name + "/";
  bool affine = b(a, "affine");
  add("Reshape", {in(n, 0), const_ints(n, "group_shape", {0, groups, -1})}, {p + "grouped"}, n, "grouped");
  attr(add("InstanceNormalization",
           {p + "grouped", constant(n, "unit_scale", ones({groups})), constant(n, "zero_shift", zeros({groups}))},
           {p + "normalized"}, n, "normalized"),
       "epsilon", f(a, "eps"));
  add("Shape", {in(n, 0)}, {p + "shape"}, n, "shape");
  add("Reshape", {p + "normalized", p + "shape"}, {affine ? p + "restored" : out(n)}, n, affine ? "restored" : "");
  if (!affine) return;
  Shape per_channel{channels};
  for (int64_t d = 2; d < x.rank(); ++d) per_channel.push_back(1);
  auto param = [&](const std::string& name) {
    std::string key = run::module_name_for(n.name) + "." + name;
    auto it = weights_.find(key);
    NL_CHECK(it != weights_.end(), "ONNX export: node '", n.name, "' (GroupNorm): weight '", key, "' is missing");
    return it->second.to(Device::cpu()).contiguous().reshape(per_channel);
  };
  add("Mul", {p + "restored", constant(n, "weight", param("weight"))}, {p + "scaled"}, n, "scaled");
  add("Add", {p + "scaled", constant(n, "bias", param("bias"))}, {out(n)}, n);
}

Tensor Exporter::param_of(const Node& n, const std::string& name) {
  std::string key = run::module_name_for(n.name) + "." + name;
  auto it = weights_.find(key);
  NL_CHECK(it != weights_.end(), "ONNX export: node '", n.name, "' (", n.type, "): weight '", key, "' is missing");
  return it->second.to(Device::cpu()).contiguous();
}

std::string Exporter::linear_nodes(const Node& n, const std::string& part, const std::string& x, const Tensor& w,
                         const Tensor& bias, const std::string& out_name) {
  std::string mm = bias.defined() || out_name.empty() ? n.name + "/" + part : out_name;
  add("MatMul", {x, constant(n, part + "_weight_t", w.t().contiguous())}, {mm}, n, part);
  if (!bias.defined()) return mm;
  std::string out = out_name.empty() ? mm + "_biased" : out_name;
  add("Add", {mm, constant(n, part + "_bias_value", bias)}, {out}, n, part + "_bias");
  return out;
}

std::string Exporter::layer_norm_nodes(const Node& n, const std::string& part, const std::string& x, const Tensor& scale,
                             const Tensor& shift, double eps) {
  std::string out = n.name + "/" + part;
  std::string sc = constant(n, part + "_weight", scale), sh = constant(n, part + "_bias", shift);
  if (opts_.opset >= 17) {
    auto* p = add("LayerNormalization", {x, sc, sh}, {out}, n, part);
    attr(p, "axis", int64_t{-1});
    attr(p, "epsilon", eps);
    return out;
  }
  std::string p = out + "/";
  std::vector<int64_t> axes = {-1};
  attr(add("ReduceMean", {x}, {p + "mean"}, n, part + "/mean"), "axes", axes);
  add("Sub", {x, p + "mean"}, {p + "centered"}, n, part + "/centered");
  add("Pow", {p + "centered", const_float(n, part + "_two", 2.0f)}, {p + "squared"}, n, part + "/squared");
  attr(add("ReduceMean", {p + "squared"}, {p + "var"}, n, part + "/var"), "axes", axes);
  add("Add", {p + "var", const_float(n, part + "_eps", static_cast<float>(eps))}, {p + "var_eps"}, n, part + "/var_eps");
  add("Sqrt", {p + "var_eps"}, {p + "std"}, n, part + "/std");
  add("Div", {p + "centered", p + "std"}, {p + "normalized"}, n, part + "/normalized");
  add("Mul", {p + "normalized", sc}, {p + "scaled"}, n, part + "/scaled");
  add("Add", {p + "scaled", sh}, {out}, n, part);
  return out;
}

std::string Exporter::attention_nodes(const Node& n, const std::string& part, const std::string& q, const std::string& k,
                            const std::string& v, int64_t e, int64_t heads, const std::string& module,
                            double dropout, const std::string& out_name) {
  int64_t d = e / heads;
  Tensor w = param_of(n, module + "in_proj_weight");
  Tensor bias = weights_.count(run::module_name_for(n.name) + "." + module + "in_proj_bias")
                    ? param_of(n, module + "in_proj_bias")
                    : Tensor();
  auto slice = [&](const Tensor& t, int64_t which) { return t.defined() ? t.narrow(0, which * e, e).contiguous() : t; };
  std::string p = n.name + "/" + part;
  std::string qp = linear_nodes(n, part + "q_proj", q, slice(w, 0), slice(bias, 0));
  std::string kp = linear_nodes(n, part + "k_proj", k, slice(w, 1), slice(bias, 1));
  std::string vp = linear_nodes(n, part + "v_proj", v, slice(w, 2), slice(bias, 2));
  std::string heads_shape = const_ints(n, part + "heads_shape", {0, 0, heads, d});
  auto split_heads = [&](const std::string& x, const std::string& which, std::vector<int64_t> perm) {
    add("Reshape", {x, heads_shape}, {p + which + "_heads"}, n, part + which + "_heads");
    attr(add("Transpose", {p + which + "_heads"}, {p + which + "_t"}, n, part + which + "_t"), "perm", perm);
    return p + which + "_t";
  };
  std::string qh = split_heads(qp, "q", {0, 2, 1, 3}), kh = split_heads(kp, "k", {0, 2, 3, 1});
  std::string vh = split_heads(vp, "v", {0, 2, 1, 3});
  add("MatMul", {qh, kh}, {p + "scores"}, n, part + "scores");
  add("Mul", {p + "scores", const_float(n, part + "scale", static_cast<float>(1.0 / std::sqrt(double(d))))},
      {p + "scaled"}, n, part + "scaled");
  attr(add("Softmax", {p + "scaled"}, {p + "weights"}, n, part + "weights"), "axis", int64_t{-1});
  add("Dropout", {p + "weights", const_float(n, part + "dropout_ratio", static_cast<float>(dropout))},
      {p + "weights_dropped"}, n, part + "dropout");
  add("MatMul", {p + "weights_dropped", vh}, {p + "context"}, n, part + "context");
  attr(add("Transpose", {p + "context"}, {p + "context_t"}, n, part + "context_t"), "perm",
       std::vector<int64_t>{0, 2, 1, 3});
  add("Reshape", {p + "context_t", const_ints(n, part + "merged_shape", {0, 0, e})}, {p + "merged"}, n,
      part + "merged");
  Tensor ob = weights_.count(run::module_name_for(n.name) + "." + module + "out_proj.bias")
                  ? param_of(n, module + "out_proj.bias")
                  : Tensor();
  return linear_nodes(n, part + "out_proj", p + "merged", param_of(n, module + "out_proj.weight"), ob, out_name);
}

std::string Exporter::batch_first_value(const Node& n, const std::string& x, const std::string& part) {
  attr(add("Transpose", {x}, {n.name + "/" + part}, n, part), "perm", std::vector<int64_t>{1, 0, 2});
  return n.name + "/" + part;
}

void Exporter::emit_multihead_attention(const Node& n, const AttrMap& a) {
  bool bf = b(a, "batch_first");
  int64_t e = in_info(n, 0).shape.at(2).size, heads = i(a, "num_heads");
  std::string q = in(n, 0);
  std::string k = g_.edge_into({n.id, 1}) ? in(n, 1) : q;
  std::string v = g_.edge_into({n.id, 2}) ? in(n, 2) : k;
  if (!bf) {
    std::string qb = batch_first_value(n, q, "q_bf");
    std::string kb = k == q ? qb : batch_first_value(n, k, "k_bf");
    std::string vb = v == k ? kb : v == q ? qb : batch_first_value(n, v, "v_bf");
    q = qb, k = kb, v = vb;
  }
  std::string y = attention_nodes(n, "", q, k, v, e, heads, "", f(a, "dropout"), bf ? out(n) : std::string());
  if (!bf) attr(add("Transpose", {y}, {out(n)}, n), "perm", std::vector<int64_t>{1, 0, 2});
}

void Exporter::emit_encoder_layer(const Node& n, const AttrMap& a) {
  bool bf = b(a, "batch_first"), pre = b(a, "norm_first");
  int64_t e = in_info(n, 0).shape.at(2).size, heads = i(a, "nhead");
  double eps = f(a, "layer_norm_eps");
  std::string p = n.name + "/";
  std::string x = bf ? in(n, 0) : batch_first_value(n, in(n, 0), "x_bf");
  auto norm = [&](const std::string& which, const std::string& y) {
    return layer_norm_nodes(n, which, y, param_of(n, which + ".weight"), param_of(n, which + ".bias"), eps);
  };
  auto attention = [&](const std::string& y) {
    return attention_nodes(n, "self_attn/", y, y, y, e, heads, "self_attn.", f(a, "dropout"));
  };
  auto feed_forward = [&](const std::string& y) {
    std::string h = linear_nodes(n, "linear1", y, param_of(n, "linear1.weight"), param_of(n, "linear1.bias"));
    if (s(a, "activation") == "relu") {
      add("Relu", {h}, {p + "activation"}, n, "activation");
    } else {  // the Erf GELU, as emit_gelu writes it
      add("Div", {h, const_float(n, "gelu_sqrt2", static_cast<float>(std::sqrt(2.0)))}, {p + "gelu/scaled"}, n,
          "gelu/scaled");
      add("Erf", {p + "gelu/scaled"}, {p + "gelu/erf"}, n, "gelu/erf");
      add("Add", {p + "gelu/erf", const_float(n, "gelu_one", 1.0f)}, {p + "gelu/erf_plus_1"}, n, "gelu/erf_plus_1");
      add("Mul", {h, p + "gelu/erf_plus_1"}, {p + "gelu/times_x"}, n, "gelu/times_x");
      add("Mul", {p + "gelu/times_x", const_float(n, "gelu_half", 0.5f)}, {p + "activation"}, n, "activation");
    }
    return linear_nodes(n, "linear2", p + "activation", param_of(n, "linear2.weight"), param_of(n, "linear2.bias"));
  };
  std::string y;
  if (pre) {
    add("Add", {x, attention(norm("norm1", x))}, {p + "residual1"}, n, "residual1");
    std::string ff = feed_forward(norm("norm2", p + "residual1"));
    y = bf ? out(n) : p + "result_bf";
    add("Add", {p + "residual1", ff}, {y}, n, bf ? std::string() : "result_bf");
  } else {
    add("Add", {x, attention(x)}, {p + "residual1"}, n, "residual1");
    std::string x1 = norm("norm1", p + "residual1");
    add("Add", {x1, feed_forward(x1)}, {p + "residual2"}, n, "residual2");
    y = norm("norm2", p + "residual2");
  }
  // The layer's output carries its name: a final Transpose, or an Identity after a norm.
  if (!bf)
    attr(add("Transpose", {y}, {out(n)}, n), "perm", std::vector<int64_t>{1, 0, 2});
  else if (y != out(n))
    add("Identity", {y}, {out(n)}, n);
}

Tensor Exporter::onnx_gates(const Tensor& w, bool lstm, int64_t h) {
  std::vector<int64_t> order = lstm ? std::vector<int64_t>{0, 3, 1, 2} : std::vector<int64_t>{1, 0, 2};
  std::vector<Tensor> blocks;
  for (int64_t g : order) blocks.push_back(w.narrow(0, g * h, h));
  return cat(blocks, 0);
}

void Exporter::emit_recurrent(const Node& n, const AttrMap& a, bool lstm) {
  int64_t h = i(a, "hidden_size"), layers = i(a, "num_layers");
  bool bidirectional = b(a, "bidirectional"), batch_first = b(a, "batch_first"), bias = b(a, "bias");
  bool sequences = b(a, "return_sequences");
  int64_t directions = bidirectional ? 2 : 1;
  std::string prefix = n.name + "/", x = in(n, 0);
  if (batch_first) {
    attr(add("Transpose", {x}, {prefix + "time_major"}, n, "time_major"), "perm", std::vector<int64_t>{1, 0, 2});
    x = prefix + "time_major";
  }
  auto param = [&](const std::string& name) {
    std::string key = run::module_name_for(n.name) + "." + name;
    auto it = weights_.find(key);
    NL_CHECK(it != weights_.end(), "ONNX export: node '", n.name, "' (", n.type, "): weight '", key, "' is missing");
    return it->second.to(Device::cpu()).contiguous();
  };
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<Tensor> w, r, bb;
    for (int64_t d = 0; d < directions; ++d) {
      std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      w.push_back(onnx_gates(param("weight_ih" + suffix), lstm, h).unsqueeze(0));
      r.push_back(onnx_gates(param("weight_hh" + suffix), lstm, h).unsqueeze(0));
      if (bias)
        bb.push_back(cat({onnx_gates(param("bias_ih" + suffix), lstm, h), onnx_gates(param("bias_hh" + suffix), lstm, h)}, 0)
                         .unsqueeze(0));
    }
    std::string l_name = "l" + std::to_string(l);
    std::vector<std::string> ins = {x, constant(n, "W_" + l_name, cat(w, 0).contiguous()),
                                    constant(n, "R_" + l_name, cat(r, 0).contiguous())};
    if (bias) ins.push_back(constant(n, "B_" + l_name, cat(bb, 0).contiguous()));
    bool last = l + 1 == layers;
    std::string y = prefix + "Y_" + l_name, y_h = prefix + "Y_h_" + l_name;
    std::vector<std::string> outs = {last && !sequences ? std::string() : y};
    if (last && !sequences) outs.push_back(y_h);
    onnx::NodeProto* p = add(lstm ? "LSTM" : "GRU", ins, outs, n, l_name);
    attr(p, "hidden_size", h);
    auto* dir = p->add_attribute();
    dir->set_name("direction");
    dir->set_type(onnx::AttributeProto::STRING);
    dir->set_s(bidirectional ? "bidirectional" : "forward");
    if (!lstm) attr(p, "linear_before_reset", int64_t{1});
    if (last && !sequences) {
      std::string hn = prefix + "Y_h_batch_major";
      attr(add("Transpose", {y_h}, {hn}, n, "Y_h_batch_major"), "perm", std::vector<int64_t>{1, 0, 2});
      add("Reshape", {hn, const_ints(n, "final_shape", {0, -1})}, {out(n)}, n);
      return;
    }
    std::string t = prefix + "Y_" + l_name + "_tnd";
    attr(add("Transpose", {y}, {t}, n, "Y_" + l_name + "_tnd"), "perm", std::vector<int64_t>{0, 2, 1, 3});
    bool output_here = last && !batch_first;
    std::string merged = output_here ? out(n) : prefix + "seq_" + l_name;
    add("Reshape", {t, const_ints(n, "seq_shape_" + l_name, {0, 0, -1})}, {merged}, n,
        output_here ? std::string() : "seq_" + l_name);
    x = merged;
  }
  if (batch_first) attr(add("Transpose", {x}, {out(n)}, n), "perm", std::vector<int64_t>{1, 0, 2});
}

std::vector<int64_t> Exporter::breaking_versions(const std::string& op) {
  static const std::map<std::string, std::vector<int64_t>> table = {
      {"ReduceSum", {13}},     {"ReduceMean", {18}},     {"ReduceMax", {18}},       {"ReduceMin", {18}},
      {"ReduceProd", {18}},    {"ReduceL1", {18}},       {"ReduceL2", {18}},        {"ReduceSumSquare", {18}},
      {"ReduceLogSum", {18}},  {"ReduceLogSumExp", {18}}, {"Squeeze", {13}},        {"Unsqueeze", {13}},
      {"Split", {13, 18}},     {"Softmax", {13}},        {"LogSoftmax", {13}},      {"Hardmax", {13}},
      {"Clip", {11}},          {"Pad", {11}},            {"Slice", {10}},           {"Dropout", {12}},
      {"BatchNormalization", {9, 14}}, {"Upsample", {9, 10}}, {"Resize", {11, 13}}, {"TopK", {10}},
      {"GRU", {7}},            {"LSTM", {7}},
  };
  auto it = table.find(op);
  return it == table.end() ? std::vector<int64_t>{} : it->second;
}

void Exporter::emit_generic(const Node& n, const AttrMap& a) {
  const std::string& op = s(a, "op_type");
  const std::string& domain = s(a, "domain");
  auto where = [&] { return "ONNX export: node '" + n.name + "' (OnnxOp " + op + "): "; };
  NL_CHECK(domain.empty() || domain == "ai.onnx", where(), "ops of domain '", domain, "' are not exported");
  const auto* schema = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(opts_.opset), "");
  NL_CHECK(schema, where(), "no such op in opset ", opts_.opset);
  // An op whose inputs or attributes changed meaning between the node's opset and the
  // export's would compute something else (ReduceMean's axes moved from an attribute to an
  // input in opset 18); most new versions only add types or optional inputs.
  int64_t from = std::min<int64_t>(i(a, "opset"), opts_.opset), to = std::max<int64_t>(i(a, "opset"), opts_.opset);
  for (int64_t version : breaking_versions(op))
    NL_CHECK(version <= from || version > to, where(), "the op was imported from opset ", i(a, "opset"),
             " and its inputs or attributes changed in opset ", version, "; export at opset ", i(a, "opset"),
             " or replace the node with a layer");
  std::vector<std::string> layout;
  {
    const std::string& text = s(a, "inputs");
    std::string token;
    for (char c : text + ",") {
      if (c == ',') {
        layout.push_back(token);
        token.clear();
      } else {
        token += c;
      }
    }
    if (text.empty()) layout.assign(static_cast<size_t>(g_.num_input_slots(n.id)), "port");
    if (text.empty() && !g_.edge_into({n.id, 0})) layout.clear();
  }
  std::vector<std::string> ins;
  int slot = 0;
  for (size_t j = 0; j < layout.size(); ++j) {
    std::string key = "in" + std::to_string(j);
    if (layout[j] == "port") {
      ins.push_back(in(n, slot++));
    } else if (layout[j] == "const") {
      auto value = a.find(key + ".value");
      if (value != a.end()) {
        const auto& shape = std::get<std::vector<int64_t>>(a.at(key + ".shape"));
        Tensor t = tensor(std::get<std::vector<int64_t>>(value->second), Shape(shape.begin(), shape.end()));
        auto dt = a.find(key + ".dtype");
        if (dt != a.end() && std::get<int64_t>(dt->second) == onnx::TensorProto::BOOL) t = t.to(DType::Bool);
        ins.push_back(constant(n, key, t));
      } else {
        ins.push_back(weight(n, key));
      }
    } else {
      ins.push_back("");
    }
  }
  while (!ins.empty() && ins.back().empty()) ins.pop_back();
  std::vector<std::string> outs;
  for (int p = 0; p < static_cast<int>(i(a, "num_outputs")); ++p) outs.push_back(out(n, p));
  onnx::NodeProto* p = add(op, ins, outs, n);
  for (const auto& [name, v] : a) {
    if (name == "op_type" || name == "domain" || name == "opset" || name == "num_outputs" || name == "inputs" ||
        name.find('.') != std::string::npos)
      continue;
    auto declared = schema->attributes().find(name);
    auto type = declared != schema->attributes().end() ? declared->second.type : onnx::AttributeProto::UNDEFINED;
    auto* at = p->add_attribute();
    at->set_name(name);
    if (type == onnx::AttributeProto::TENSOR) {
      const auto& vals = std::get<std::vector<double>>(v);
      auto dt = a.find(name + ".dtype");
      DType dtype = dt != a.end() && std::get<int64_t>(dt->second) == onnx::TensorProto::INT64 ? DType::Int64
                    : dt != a.end() && std::get<int64_t>(dt->second) == onnx::TensorProto::BOOL ? DType::Bool
                                                                                                 : DType::Float32;
      at->set_type(onnx::AttributeProto::TENSOR);
      fill_tensor(*at->mutable_t(), "", tensor(std::vector<float>(vals.begin(), vals.end()), {1}).to(dtype));
    } else if (auto* x = std::get_if<int64_t>(&v)) {
      if (type == onnx::AttributeProto::FLOAT) {
        at->set_type(onnx::AttributeProto::FLOAT);
        at->set_f(static_cast<float>(*x));
      } else {
        at->set_type(onnx::AttributeProto::INT);
        at->set_i(*x);
      }
    } else if (auto* x = std::get_if<bool>(&v)) {
      at->set_type(onnx::AttributeProto::INT);
      at->set_i(*x);
    } else if (auto* x = std::get_if<double>(&v)) {
      at->set_type(onnx::AttributeProto::FLOAT);
      at->set_f(static_cast<float>(*x));
    } else if (auto* x = std::get_if<std::string>(&v)) {
      at->set_type(onnx::AttributeProto::STRING);
      at->set_s(*x);
    } else if (auto* x = std::get_if<std::vector<int64_t>>(&v)) {
      if (type == onnx::AttributeProto::FLOATS) {  // an empty list reads back as ints
        at->set_type(onnx::AttributeProto::FLOATS);
        for (int64_t e : *x) at->add_floats(static_cast<float>(e));
      } else {
        at->set_type(onnx::AttributeProto::INTS);
        for (int64_t e : *x) at->add_ints(e);
      }
    } else if (auto* x = std::get_if<std::vector<double>>(&v)) {
      at->set_type(onnx::AttributeProto::FLOATS);
      for (double e : *x) at->add_floats(static_cast<float>(e));
    }
  }
}

void Exporter::emit_layer_norm(const Node& n, const AttrMap& a) {
  const graph::TensorInfo& x = in_info(n, 0);
  int64_t k = i(a, "normalized_dims");
  Shape norm_shape;
  for (int64_t d = x.rank() - k; d < x.rank(); ++d) norm_shape.push_back(x.shape.at(d).size);
  std::string scale, shift;
  if (b(a, "elementwise_affine")) {
    scale = weight(n, "weight");
    shift = weight(n, "bias");
  } else {
    scale = constant(n, "scale", ones(norm_shape));
    shift = constant(n, "shift", zeros(norm_shape));
  }
  if (opts_.opset >= 17) {
    auto* p = add("LayerNormalization", {in(n, 0), scale, shift}, {out(n)}, n);
    attr(p, "axis", -k);
    attr(p, "epsilon", f(a, "eps"));
    return;
  }
  // Before opset 17: the ReduceMean/Sub/Pow/Sqrt/Div pattern PyTorch exports.
  std::vector<int64_t> axes;
  for (int64_t d = -k; d < 0; ++d) axes.push_back(d);
  std::string p = n.name + "/";
  attr(add("ReduceMean", {in(n, 0)}, {p + "mean"}, n, "mean"), "axes", axes);
  add("Sub", {in(n, 0), p + "mean"}, {p + "centered"}, n, "centered");
  add("Pow", {p + "centered", const_float(n, "two", 2.0f)}, {p + "squared"}, n, "squared");
  attr(add("ReduceMean", {p + "squared"}, {p + "var"}, n, "var"), "axes", axes);
  add("Add", {p + "var", const_float(n, "eps", static_cast<float>(f(a, "eps")))}, {p + "var_eps"}, n, "var_eps");
  add("Sqrt", {p + "var_eps"}, {p + "std"}, n, "std");
  add("Div", {p + "centered", p + "std"}, {p + "normalized"}, n, "normalized");
  add("Mul", {p + "normalized", scale}, {p + "scaled"}, n, "scaled");
  add("Add", {p + "scaled", shift}, {out(n)}, n);
}

void Exporter::emit_gelu(const Node& n, const AttrMap& a) {
  std::string p = n.name + "/";
  if (s(a, "approximate") == "tanh") {
    // As PyTorch exports it before opset 20: 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).
    add("Mul", {in(n, 0), in(n, 0)}, {p + "square"}, n, "square");
    add("Mul", {in(n, 0), p + "square"}, {p + "cube"}, n, "cube");
    add("Mul", {const_float(n, "kappa", 0.044715f), p + "cube"}, {p + "kappa_cube"}, n, "kappa_cube");
    add("Add", {in(n, 0), p + "kappa_cube"}, {p + "inner"}, n, "inner");
    add("Mul", {const_float(n, "beta", static_cast<float>(std::sqrt(2.0 / M_PI))), p + "inner"}, {p + "scaled"}, n,
        "scaled");
    add("Tanh", {p + "scaled"}, {p + "tanh"}, n, "tanh");
    add("Add", {const_float(n, "one", 1.0f), p + "tanh"}, {p + "tanh_plus_1"}, n, "tanh_plus_1");
    add("Mul", {in(n, 0), p + "tanh_plus_1"}, {p + "times_x"}, n, "times_x");
    add("Mul", {const_float(n, "half", 0.5f), p + "times_x"}, {out(n)}, n);
    return;
  }
  // The erf form as PyTorch exports it before opset 20: x · 0.5 · (1 + erf(x / √2)).
  add("Div", {in(n, 0), const_float(n, "sqrt2", static_cast<float>(std::sqrt(2.0)))}, {p + "scaled"}, n, "scaled");
  add("Erf", {p + "scaled"}, {p + "erf"}, n, "erf");
  add("Add", {p + "erf", const_float(n, "one", 1.0f)}, {p + "erf_plus_1"}, n, "erf_plus_1");
  add("Mul", {in(n, 0), p + "erf_plus_1"}, {p + "times_x"}, n, "times_x");
  add("Mul", {p + "times_x", const_float(n, "half", 0.5f)}, {out(n)}, n);
}

}  // namespace nl::importers::detail
