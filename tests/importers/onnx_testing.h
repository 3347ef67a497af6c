// Helpers the ONNX tests share: building a graph's model with its weights, random inputs
// for every Input node, comparing graphs, weights and outputs, and a model using every
// layer type the exporter maps.
#pragma once
#include <QtTest/QtTest>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "engine/core/generator.h"
#include "engine/graph/graph_analysis.h"
#include "engine/ops/ops.h"
#include "engine/run/graph_executor.h"

namespace onnx_testing {

using namespace nl;
using namespace nl::graph;

// The model of `g` in eval mode, with `weights` loaded (missing ones keep their initial values).
inline std::shared_ptr<run::GraphModel> build(const ModelGraph& g, const std::map<std::string, Tensor>& weights) {
  run::GraphExecutor executor;
  auto model = executor.build(g);
  if (!weights.empty()) model->load_weights(weights);
  model->eval();
  return model;
}

// One random tensor per Input node, batch `batch`; int64 inputs get indices below `index_limit`.
inline std::map<std::string, Tensor> random_inputs(const ModelGraph& g, int64_t batch, int64_t index_limit,
                                                   uint64_t seed) {
  Generator gen(seed);
  std::map<std::string, Tensor> out;
  for (NodeId id : g.nodes_of_type("Input")) {
    auto shape = std::get<std::vector<int64_t>>(g.attribute(id, "shape"));
    Shape s;
    for (int64_t d : shape) s.push_back(d < 0 ? batch : d);
    bool index = std::get<std::string>(g.attribute(id, "dtype")) == "int64";
    if (index) {
      Tensor u = uniform(s, 0.0, static_cast<double>(index_limit) - 1e-3, {}, &gen);
      std::vector<float> v = u.to_vector<float>();
      std::vector<int64_t> idx(v.begin(), v.end());
      out[g.node(id).name] = tensor(idx, s);
    } else {
      out[g.node(id).name] = randn(s, {}, &gen);
    }
  }
  return out;
}

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<size_t>(ca.numel()) * ca.element_size()) == 0;
}

// Largest |a - b| relative to max(1, |b|); infinity when shapes differ. Equal infinities and
// NaN against NaN count as equal.
inline double max_rel_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<float> va = a.to(DType::Float32).to_vector<float>(), vb = b.to(DType::Float32).to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    if (va[i] == vb[i] || (std::isnan(va[i]) && std::isnan(vb[i]))) continue;  // equal infinities, NaN for NaN
    double d = std::abs(static_cast<double>(va[i]) - vb[i]) / std::max(1.0, std::abs(static_cast<double>(vb[i])));
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
  }
  return worst;
}

inline bool attrs_equal(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (auto* x = std::get_if<double>(&a)) return std::abs(*x - std::get<double>(b)) <= 1e-6 * std::max(1.0, std::abs(*x));
  return a == b;
}

// Differences between the layers of `a` that a run computes and those of `b`, matched by
// name: type, resolved attributes and edges. Empty when the same.
inline QString structure_diff(const ModelGraph& a, const ModelGraph& b) {
  std::set<NodeId> needed;
  std::vector<NodeId> todo = a.nodes_of_type("Output");
  while (!todo.empty()) {
    NodeId id = todo.back();
    todo.pop_back();
    if (!needed.insert(id).second) continue;
    for (const auto& e : a.edges_into(id)) todo.push_back(e.from.node);
  }
  QStringList diffs;
  if (needed.size() != b.size())
    diffs << QString("layer count %1 vs %2").arg(needed.size()).arg(b.size());
  for (NodeId id : needed) {
    const graph::Node& n = a.node(id);
    const graph::Node* m = b.find_by_name(n.name);
    if (!m) {
      diffs << QString("'%1' missing").arg(n.name.c_str());
      continue;
    }
    if (m->type != n.type) diffs << QString("'%1': type %2 vs %3").arg(n.name.c_str(), n.type.c_str(), m->type.c_str());
    AttrMap ra = a.resolved_attributes(id), rb = b.resolved_attributes(m->id);
    for (const auto& [k, v] : ra)
      if (!rb.count(k) || !attrs_equal(v, rb.at(k)))
        diffs << QString("'%1'.%2: %3 vs %4")
                     .arg(n.name.c_str(), k.c_str(), attr_value_to_string(v).c_str(),
                          rb.count(k) ? attr_value_to_string(rb.at(k)).c_str() : "absent");
  }
  auto edge_set = [](const ModelGraph& g, const std::set<NodeId>* only) {
    std::set<std::string> s;
    for (const auto& e : g.edges())
      if (!only || (only->count(e.from.node) && only->count(e.to.node)))
        s.insert(g.node(e.from.node).name + ":" + std::to_string(e.from.port) + "->" + g.node(e.to.node).name + ":" +
                 std::to_string(e.to.port));
    return s;
  };
  if (edge_set(a, &needed) != edge_set(b, nullptr)) diffs << "edges differ";
  return diffs.join("; ");
}

using V = std::vector<int64_t>;

inline NodeId add(ModelGraph& g, const std::string& type, const std::string& name, const AttrMap& attrs,
           std::vector<PortRef> inputs) {
  auto r = g.add_node(type, name, attrs);
  if (!r) qFatal("add %s: %s", name.c_str(), r.error.c_str());
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto c = g.connect({inputs[i], {r.value, static_cast<int>(i)}});
    if (!c) qFatal("connect %s: %s", name.c_str(), c.error.c_str());
  }
  return r.value;
}
inline PortRef p(NodeId id, int port = 0) { return {id, port}; }

// Every layer type the exporter maps, with settings that survive a round trip unchanged.
inline ModelGraph every_layer_graph() {
  ModelGraph g;
  NodeId x = add(g, "Input", "x", {{"shape", V{-1, 3, 8, 8}}}, {});
  NodeId conv = add(g, "Conv2d", "conv", {{"out_channels", int64_t{4}}}, {p(x)});
  NodeId same = add(g, "Conv2d", "conv_same",
                    {{"out_channels", int64_t{4}}, {"kernel_size", V{2, 2}}, {"padding_type", std::string("same")},
                     {"dilation", V{1, 2}}},
                    {p(x)});
  NodeId grouped = add(g, "Conv2d", "conv_grouped",
                       {{"out_channels", int64_t{4}}, {"groups", int64_t{2}}, {"dilation", V{2, 2}},
                        {"padding", V{2, 2}}, {"bias", false}},
                       {p(conv)});
  NodeId bn = add(g, "BatchNorm2d", "bn", {{"eps", 1e-3}, {"momentum", 0.2}}, {p(grouped)});
  NodeId relu6 = add(g, "ReLU6", "relu6", {}, {p(bn)});
  NodeId up = add(g, "ConvTranspose2d", "up", {{"out_channels", int64_t{2}}}, {p(relu6)});
  NodeId mp = add(g, "MaxPool2d", "maxpool", {}, {p(up)});
  NodeId ap = add(g, "AvgPool2d", "avgpool", {{"count_include_pad", false}}, {p(up)});
  NodeId cat = add(g, "Concat", "cat", {}, {p(mp), p(ap)});
  NodeId sum = add(g, "Add", "sum3", {}, {p(cat), p(same), p(relu6)});
  NodeId mul = add(g, "Mul", "gate", {}, {p(sum), p(conv)});
  NodeId relu = add(g, "ReLU", "relu", {}, {p(mul)});
  NodeId gn = add(g, "GroupNorm", "groupnorm", {{"num_groups", int64_t{2}}, {"eps", 1e-4}}, {p(relu)});
  NodeId gn_plain = add(g, "GroupNorm", "groupnorm_plain", {{"num_groups", int64_t{4}}, {"affine", false}}, {p(relu)});
  NodeId gap = add(g, "GlobalAvgPool2d", "gap", {}, {p(gn)});
  NodeId aap = add(g, "AdaptiveAvgPool2d", "aap", {}, {p(gn_plain)});
  NodeId flat = add(g, "Flatten", "flat", {}, {p(aap)});
  NodeId cat2 = add(g, "Concat", "features", {}, {p(gap), p(flat)});
  NodeId bn1 = add(g, "BatchNorm1d", "bn1", {}, {p(cat2)});
  NodeId fc = add(g, "Linear", "fc", {{"out_features", int64_t{12}}}, {p(bn1)});
  NodeId leaky = add(g, "LeakyReLU", "leaky", {{"negative_slope", 0.2}}, {p(fc)});
  NodeId gelu = add(g, "GELU", "gelu", {}, {p(leaky)});
  NodeId gelu_tanh = add(g, "GELU", "gelu_tanh", {{"approximate", std::string("tanh")}}, {p(gelu)});
  NodeId silu = add(g, "SiLU", "silu", {}, {p(gelu_tanh)});
  NodeId sig = add(g, "Sigmoid", "sigmoid", {}, {p(silu)});
  NodeId tanh = add(g, "Tanh", "tanh", {}, {p(sig)});
  NodeId resh = add(g, "Reshape", "reshape", {{"shape", V{0, 3, 4}}}, {p(tanh)});
  NodeId perm = add(g, "Permute", "permute", {{"dims", V{0, 2, 1}}}, {p(resh)});
  NodeId fc3 = add(g, "Linear", "fc_seq", {{"out_features", int64_t{6}}}, {p(perm)});
  NodeId fc3nb = add(g, "Linear", "fc_seq_nobias", {{"out_features", int64_t{6}}, {"bias", false}}, {p(fc3)});
  NodeId ln = add(g, "LayerNorm", "ln", {{"eps", 1e-4}}, {p(fc3nb)});
  NodeId lnt = add(g, "Permute", "ln_t", {{"dims", V{0, 2, 1}}}, {p(ln)});
  NodeId mm = add(g, "MatMul", "scores", {}, {p(ln), p(lnt)});
  NodeId sl = add(g, "Slice", "slice", {{"dim", int64_t{2}}, {"start", int64_t{1}}, {"end", int64_t{3}}}, {p(mm)});
  NodeId split = add(g, "Split", "split", {{"dim", int64_t{1}}}, {p(sl)});
  NodeId prod = add(g, "Mul", "halves", {}, {p(split, 0), p(split, 1)});
  NodeId sm = add(g, "Softmax", "softmax", {}, {p(prod)});
  NodeId drop = add(g, "Dropout", "dropout", {{"p", 0.25}}, {p(sm)});
  NodeId id = add(g, "Identity", "tap", {}, {p(drop)});
  add(g, "Output", "y", {}, {p(id)});
  NodeId c1 = add(g, "Conv1d", "conv1d", {{"out_channels", int64_t{2}}, {"kernel_size", int64_t{3}}}, {p(perm)});
  add(g, "Output", "z", {}, {p(c1)});
  NodeId tok = add(g, "Input", "tokens", {{"shape", V{-1, 5}}, {"dtype", std::string("int64")}}, {});
  NodeId emb = add(g, "Embedding", "emb", {{"num_embeddings", int64_t{10}}, {"embedding_dim", int64_t{6}}}, {p(tok)});
  add(g, "Output", "embedded", {}, {p(emb)});
  return g;
}

// Recurrent layers in the settings the exporter distinguishes: stacked bidirectional
// batch-first LSTM with every step, a time-major GRU with only its final state, and a
// single-layer LSTM without bias giving its final state.
inline ModelGraph recurrent_graph() {
  ModelGraph g;
  NodeId x = add(g, "Input", "seq", {{"shape", V{-1, 5, 3}}}, {});
  NodeId lstm = add(g, "LSTM", "lstm2",
                    {{"hidden_size", int64_t{4}}, {"num_layers", int64_t{2}}, {"bidirectional", true}}, {p(x)});
  NodeId gru = add(g, "GRU", "gru_tm",
                   {{"hidden_size", int64_t{3}}, {"batch_first", false}, {"return_sequences", false}}, {p(lstm)});
  add(g, "Output", "state", {}, {p(gru)});
  NodeId last = add(g, "LSTM", "lstm_last",
                    {{"hidden_size", int64_t{2}}, {"bias", false}, {"return_sequences", false}}, {p(x)});
  add(g, "Output", "last", {}, {p(last)});
  NodeId seq = add(g, "GRU", "gru_seq", {{"hidden_size", int64_t{2}}, {"bidirectional", true}}, {p(x)});
  add(g, "Output", "steps", {}, {p(seq)});
  return g;
}

// Attention layers in the forms the exporter distinguishes: self- and cross-attention,
// batch-first or not, encoder layers pre- and post-norm with GELU and ReLU.
inline ModelGraph attention_graph() {
  ModelGraph g;
  NodeId x = add(g, "Input", "seq", {{"shape", V{-1, 5, 8}}}, {});
  NodeId mem = add(g, "Input", "memory", {{"shape", V{-1, 7, 8}}}, {});
  NodeId self = add(g, "MultiheadAttention", "self_attn", {{"num_heads", int64_t{2}}, {"dropout", 0.1}}, {p(x)});
  NodeId cross = add(g, "MultiheadAttention", "cross_attn", {{"num_heads", int64_t{4}}, {"bias", false}}, {p(self), p(mem)});
  NodeId pre = add(g, "TransformerEncoderLayer", "enc_pre",
                   {{"nhead", int64_t{2}}, {"dim_feedforward", int64_t{16}}, {"activation", std::string("gelu")},
                    {"norm_first", true}, {"layer_norm_eps", 1e-4}},
                   {p(cross)});
  NodeId post = add(g, "TransformerEncoderLayer", "enc_post", {{"nhead", int64_t{4}}, {"dim_feedforward", int64_t{12}}},
                    {p(pre)});
  add(g, "Output", "encoded", {}, {p(post)});
  NodeId tm = add(g, "MultiheadAttention", "time_major", {{"num_heads", int64_t{2}}, {"batch_first", false}}, {p(x)});
  NodeId tm_enc = add(g, "TransformerEncoderLayer", "enc_time_major",
                      {{"nhead", int64_t{2}}, {"dim_feedforward", int64_t{8}}, {"batch_first", false}}, {p(tm)});
  add(g, "Output", "time_major_out", {}, {p(tm_enc)});
  return g;
}

// Trained-looking weights: random values everywhere (BatchNorm statistics included), so a
// weight that lands in the wrong slot changes the outputs.
inline std::map<std::string, Tensor> random_weights(const ModelGraph& g, uint64_t seed) {
  Generator gen(seed);
  std::map<std::string, Tensor> w;
  for (const auto& [k, t] : build(g, {})->state_dict()) {
    if (t.dtype() != DType::Float32) {
      w[k] = t;
      continue;
    }
    Tensor r = uniform(t.shape(), 0.5, 1.5, {}, &gen);  // positive: valid running variances
    if (k.find("running_var") == std::string::npos) r = sub(r, scalar_tensor(1.0));
    w[k] = r;
  }
  return w;
}

}  // namespace onnx_testing

#include <onnx/onnx_pb.h>

namespace onnx_testing {

// A hand-written ONNX model (opset 17) of ops that have no Netloom layer, so each imports as
// a generic OnnxOp node: Mul by a weight, ReduceMean, Sub, Neg, Exp, Unsqueeze/Squeeze with
// constant axes, Gather, Greater/Where, Pow, Pad with a constant value, and on a second input
// a Conv with asymmetric pads and a MaxPool with SAME_LOWER padding.
inline std::string generic_ops_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("netloom-tests");
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("generic_ops");
  auto input = [&](const char* name, std::vector<int64_t> dims) {
    auto* v = g->add_input();
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) {
      auto* dim = tt->mutable_shape()->add_dim();
      if (d < 0) dim->set_dim_param("N");
      else dim->set_dim_value(d);
    }
  };
  auto output = [&](const char* name) {
    auto* v = g->add_output();
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  };
  auto init_f = [&](const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float x : v) t->add_float_data(x);
  };
  auto init_i = [&](const std::string& name, std::vector<int64_t> dims, std::vector<int64_t> v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t x : v) t->add_int64_data(x);
  };
  auto node = [&](const char* op, const char* name, std::vector<std::string> in, std::vector<std::string> out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : in) n->add_input(i);
    for (auto& o : out) n->add_output(o);
    return n;
  };
  auto ints = [](onnx::NodeProto* n, const char* name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  };
  auto str = [](onnx::NodeProto* n, const char* name, const char* v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  };
  input("x", {-1, 4, 6});
  input("image", {-1, 2, 7, 7});
  init_f("scale", {6}, {0.5f, -1.0f, 1.5f, 2.0f, 0.25f, -0.75f});
  init_i("axis1", {1}, {1});
  init_i("pick", {2}, {2, 0});
  init_f("half", {}, {0.5f});
  init_f("two", {}, {2.0f});
  init_i("pads", {6}, {0, 0, 1, 0, 0, 2});
  init_f("pad_value", {}, {0.25f});
  std::vector<float> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 37 % 17) - 8) / 10.0f;
  init_f("conv_w", {3, 2, 3, 3}, w);
  init_f("conv_b", {3}, {0.1f, -0.2f, 0.3f});
  node("Mul", "scaled", {"x", "scale"}, {"scaled"});
  ints(node("ReduceMean", "mean", {"scaled"}, {"mean"}), "axes", {-1});
  node("Sub", "centered", {"scaled", "mean"}, {"centered"});
  node("Neg", "negated", {"centered"}, {"negated"});
  node("Exp", "exped", {"negated"}, {"exped"});
  node("Unsqueeze", "unsqueezed", {"exped", "axis1"}, {"unsqueezed"});
  node("Squeeze", "squeezed", {"unsqueezed", "axis1"}, {"squeezed"});
  auto* gather = node("Gather", "picked", {"squeezed", "pick"}, {"picked"});
  auto* axis = gather->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(2);
  node("Greater", "big", {"picked", "half"}, {"big"});
  node("Neg", "flipped", {"picked"}, {"flipped"});
  node("Where", "chosen", {"big", "picked", "flipped"}, {"chosen"});
  node("Pow", "squared", {"chosen", "two"}, {"squared"});
  node("Pad", "y", {"squared", "pads", "pad_value"}, {"y"});
  ints(node("Conv", "conv", {"image", "conv_w", "conv_b"}, {"conv"}), "pads", {0, 1, 1, 0});
  auto* pool = node("MaxPool", "pooled", {"conv"}, {"pooled"});
  ints(pool, "kernel_shape", {2, 2});
  str(pool, "auto_pad", "SAME_LOWER");
  output("y");
  output("pooled");
  return m.SerializeAsString();
}

}  // namespace onnx_testing
