// Layers Netloom exports as several ONNX nodes (LSTM/GRU, GroupNorm, MultiheadAttention,
// TransformerEncoderLayer) come back whole: the importer groups nodes by the layer named in
// their doc string ("Netloom layer 'enc1' (TransformerEncoderLayer)") and reads the layer's
// settings and weights from them (Note [Recurrent export], Note [Attention export] in
// onnx_export.cpp). Anything that does not fit throws NoLayer and the nodes map one by one.
#include <cmath>

#include "engine/ops/movement.h"
#include "importers/onnx/onnx_importer.h"

namespace nl::importers::detail {

void Importer::map_tagged_recurrent(const std::string& layer, const std::vector<int>& group) {
  std::vector<const onnx::NodeProto*> cells;
  const onnx::NodeProto* output = nullptr;
  for (int i : group) {
    const onnx::NodeProto& m = g_.node(i);
    if (m.op_type() == "LSTM" || m.op_type() == "GRU") cells.push_back(&m);
    for (const auto& o : m.output())
      if (o == layer) output = &m;
  }
  if (cells.empty() || !output) no_layer("not a whole recurrent layer");
  bool lstm = cells[0]->op_type() == "LSTM";
  int64_t h = attr_i(*cells[0], "hidden_size", 0), gates = lstm ? 4 : 3;
  std::string direction = attr_s(*cells[0], "direction", "forward");
  if (h <= 0 || (direction != "forward" && direction != "bidirectional")) no_layer("unsupported recurrent settings");
  if (!lstm && attr_i(*cells[0], "linear_before_reset", 0) != 1) no_layer("GRU without linear_before_reset");
  int64_t directions = direction == "bidirectional" ? 2 : 1;
  // The input: through the time-major Transpose when the layer is batch-first.
  std::string x = cells[0]->input(0);
  bool batch_first = false;
  for (int i : group) {
    const onnx::NodeProto& m = g_.node(i);
    if (m.op_type() == "Transpose" && m.output(0) == x && attr_ints(m, "perm", {}) == std::vector<int64_t>{1, 0, 2}) {
      batch_first = true;
      x = m.input(0);
    }
  }
  const onnx::NodeProto& last = *cells.back();
  bool sequences = !(last.output_size() > 1 && !last.output(1).empty() && consumers_.count(last.output(1)));
  bool bias = cells[0]->input_size() > 3 && !cells[0]->input(3).empty();
  // ONNX gate block j holds PyTorch block order[j] (Note [Recurrent export]); this undoes it.
  std::vector<int64_t> inverse = lstm ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{1, 0, 2};
  auto torch_gates = [&](const Tensor& w) {
    std::vector<Tensor> blocks;
    for (int64_t g : inverse) blocks.push_back(w.narrow(0, g * h, h));
    return cat(blocks, 0).contiguous();
  };
  std::map<std::string, Tensor> params;
  for (size_t l = 0; l < cells.size(); ++l) {
    const onnx::NodeProto& c = *cells[l];
    if (c.op_type() != cells[0]->op_type() || attr_i(c, "hidden_size", 0) != h) no_layer("mixed recurrent cells");
    const Tensor &w = require_constant(c, 1, "W"), &r = require_constant(c, 2, "R");
    if (w.dim() != 3 || w.size(0) != directions || w.size(1) != gates * h || r.dim() != 3) no_layer("unexpected W or R");
    for (int64_t d = 0; d < directions; ++d) {
      std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      params["weight_ih" + suffix] = torch_gates(w.select(0, d));
      params["weight_hh" + suffix] = torch_gates(r.select(0, d));
      if (bias) {
        const Tensor& b = require_constant(c, 3, "B");
        params["bias_ih" + suffix] = torch_gates(b.select(0, d).narrow(0, 0, gates * h));
        params["bias_hh" + suffix] = torch_gates(b.select(0, d).narrow(0, gates * h, gates * h));
      }
    }
  }
  NodeId id = add_layer(g_.node(group.front()), lstm ? "LSTM" : "GRU",
                        {{"hidden_size", h},
                         {"num_layers", static_cast<int64_t>(cells.size())},
                         {"bias", bias},
                         {"batch_first", batch_first},
                         {"bidirectional", directions == 2},
                         {"return_sequences", sequences}});
  connect(g_.node(group.front()), x, id, 0);
  for (const auto& [name, t] : params) set_weight(id, name, t);
  values_[layer] = {id, 0};
  consumed_.insert(group.begin(), group.end());
}

void Importer::map_tagged_group_norm(const std::string& layer, const std::vector<int>& group) {
  const onnx::NodeProto *grouped = nullptr, *norm = nullptr, *scale = nullptr, *shift = nullptr;
  bool produces = false;
  for (int i : group) {
    const onnx::NodeProto& m = g_.node(i);
    if (m.op_type() == "Reshape" && !grouped) grouped = &m;
    if (m.op_type() == "InstanceNormalization") norm = &m;
    if (m.op_type() == "Mul") scale = &m;
    if (m.op_type() == "Add") shift = &m;
    for (const auto& o : m.output()) produces |= o == layer;
  }
  if (!grouped || !norm || !produces || (scale == nullptr) != (shift == nullptr)) no_layer("not a whole GroupNorm");
  std::vector<int64_t> target = const_ints(*grouped, 1, "shape");
  if (target.size() != 3) no_layer("not a GroupNorm grouping");
  AttrMap a = {{"num_groups", target[1]}, {"eps", attr_f(*norm, "epsilon", 1e-5)}, {"affine", scale != nullptr}};
  Tensor weight, bias;
  if (scale) {
    const Tensor* w = constant(scale->input(1));
    const Tensor* b = constant(shift->input(1));
    if (!w || !b) no_layer("GroupNorm affine weights are not constants");
    weight = w->reshape({w->numel()});
    bias = b->reshape({b->numel()});
  }
  NodeId id = add_layer(*grouped, "GroupNorm", a);
  connect(*grouped, grouped->input(0), id, 0);
  if (scale) {
    set_weight(id, "weight", weight);
    set_weight(id, "bias", bias);
  }
  values_[layer] = {id, 0};
  consumed_.insert(group.begin(), group.end());
}

namespace {

// The nodes of one tagged layer by their part name ("<layer>/<part>").
class Parts {
 public:
  Parts(const onnx::GraphProto& g, const std::string& layer, const std::vector<int>& group) {
    std::string prefix = layer + "/";
    for (int i : group) {
      const onnx::NodeProto& m = g.node(i);
      if (m.name() == layer) by_part_[""] = &m;
      else if (m.name().rfind(prefix, 0) == 0) by_part_[m.name().substr(prefix.size())] = &m;
    }
  }
  const onnx::NodeProto* find(const std::string& part) const {
    auto it = by_part_.find(part);
    return it == by_part_.end() ? nullptr : it->second;
  }

 private:
  std::map<std::string, const onnx::NodeProto*> by_part_;
};

}  // namespace

void Importer::map_tagged_attention(const std::string& layer, const std::vector<int>& group, bool encoder) {
  Parts parts(g_, layer, group);
  auto need = [&](const std::string& part) -> const onnx::NodeProto& {
    const onnx::NodeProto* m = parts.find(part);
    if (!m) no_layer("no node '" + layer + "/" + part + "'");
    return *m;
  };
  auto constant_input = [&](const onnx::NodeProto& m, int k) -> const Tensor& {
    const Tensor* t = k < m.input_size() ? constant(m.input(k)) : nullptr;
    if (!t) no_layer("input " + std::to_string(k) + " of '" + m.name() + "' is not a constant");
    return *t;
  };
  // A projection x·Wᵀ (+ b): W back in PyTorch's out×in layout, and the bias when there is one.
  auto linear = [&](const std::string& part, Tensor* bias) {
    Tensor w = constant_input(need(part), 1).t().contiguous();
    if (const onnx::NodeProto* b = parts.find(part + "_bias")) *bias = constant_input(*b, 1);
    return w;
  };
  std::string sa = encoder ? "self_attn/" : "";
  std::vector<int64_t> heads_shape = const_ints(need(sa + "q_heads"), 1, "heads shape");
  if (heads_shape.size() != 4) no_layer("unexpected head shape");
  int64_t heads = heads_shape[2];
  double dropout = clean(const_scalar(need(sa + "dropout").input(1)).value_or(0.0));
  Tensor bq, bk, bv, bo;
  Tensor wq = linear(sa + "q_proj", &bq), wk = linear(sa + "k_proj", &bk), wv = linear(sa + "v_proj", &bv);
  Tensor wo = linear(sa + "out_proj", &bo);
  bool bias = bq.defined();
  std::map<std::string, Tensor> params;
  std::string w_prefix = encoder ? "self_attn." : "";
  params[w_prefix + "in_proj_weight"] = cat({wq, wk, wv}, 0).contiguous();
  if (bias) params[w_prefix + "in_proj_bias"] = cat({bq, bk, bv}, 0).contiguous();
  params[w_prefix + "out_proj.weight"] = wo;
  if (bo.defined()) params[w_prefix + "out_proj.bias"] = bo;

  // The layer's inputs: what the projections read, through the batch-first Transposes.
  auto source = [&](const std::string& value, bool* transposed) {
    for (int i : group) {
      const onnx::NodeProto& m = g_.node(i);
      if (m.op_type() == "Transpose" && m.output(0) == value && attr_ints(m, "perm", {}) == std::vector<int64_t>{1, 0, 2}) {
        *transposed = true;
        return m.input(0);
      }
    }
    *transposed = false;
    return value;
  };
  bool tq = false, tk = false, tv = false;
  std::string q = source(need(sa + "q_proj").input(0), &tq), k = source(need(sa + "k_proj").input(0), &tk);
  std::string v = source(need(sa + "v_proj").input(0), &tv);
  bool batch_first = !parts.find(encoder ? "x_bf" : "q_bf");
  (void)tk;
  (void)tv;

  AttrMap a;
  const onnx::NodeProto& first = g_.node(group.front());
  NodeId id;
  if (!encoder) {
    a = {{"num_heads", heads}, {"dropout", dropout}, {"bias", bias}, {"batch_first", batch_first}};
    id = add_layer(first, "MultiheadAttention", a);
    connect(first, q, id, 0);
    if (k != q || v != q) connect(first, k, id, 1);
    if (v != k) connect(first, v, id, 2);
  } else {
    const onnx::NodeProto& norm1 = need("norm1");
    // residual1 = x + attention(…) in both orders; post-norm normalises it, pre-norm x itself.
    const onnx::NodeProto& residual1 = need("residual1");
    std::string norm1_in = norm1.op_type() == "LayerNormalization" ? norm1.input(0) : need("norm1/mean").input(0);
    bool norm_first = norm1_in != residual1.output(0);
    std::string x = batch_first ? residual1.input(0) : need("x_bf").input(0);  // the encoder's own input
    auto norm_params = [&](const std::string& which, double* eps) {
      const onnx::NodeProto& m = need(which);
      if (m.op_type() == "LayerNormalization") {
        *eps = attr_f(m, "epsilon", 1e-5);
        params[which + ".weight"] = constant_input(m, 1);
        params[which + ".bias"] = constant_input(m, 2);
        return;
      }
      *eps = clean(const_scalar(need(which + "/var_eps").input(1)).value_or(1e-5));
      params[which + ".weight"] = constant_input(need(which + "/scaled"), 1);
      params[which + ".bias"] = constant_input(m, 1);
    };
    double eps1 = 1e-5, eps2 = 1e-5;
    norm_params("norm1", &eps1);
    norm_params("norm2", &eps2);
    Tensor b1, b2;
    params["linear1.weight"] = linear("linear1", &b1);
    params["linear2.weight"] = linear("linear2", &b2);
    if (!b1.defined() || !b2.defined()) no_layer("encoder feed-forward without biases");
    params["linear1.bias"] = b1;
    params["linear2.bias"] = b2;
    a = {{"nhead", heads},
         {"dim_feedforward", params["linear1.weight"].size(0)},
         {"dropout", dropout},
         {"activation", std::string(need("activation").op_type() == "Relu" ? "relu" : "gelu")},
         {"layer_norm_eps", eps1},
         {"batch_first", batch_first},
         {"norm_first", norm_first}};
    id = add_layer(first, "TransformerEncoderLayer", a);
    connect(first, x, id, 0);
  }
  for (const auto& [name, t] : params) set_weight(id, name, t);
  values_[layer] = {id, 0};
  consumed_.insert(group.begin(), group.end());
}

}  // namespace nl::importers::detail
