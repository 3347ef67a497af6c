// Multi-node patterns that exporters write for one layer, folded back into that layer:
// x·Sigmoid(x) → SiLU, the Erf GELU, the ReduceMean/Sub/Pow/Sqrt/Div LayerNorm, and the
// nodes of a recurrent layer a Netloom export wrote. A node that
// starts no pattern throws NoLayer and becomes a generic op (Note [Layers first]).
#include <cmath>

#include "engine/ops/elementwise.h"
#include "engine/ops/movement.h"
#include "importers/onnx/onnx_importer.h"

namespace nl::importers::detail {

// Sigmoid(x) read only by Mul(x, ·) is SiLU.
void Importer::map_sigmoid(const onnx::NodeProto& n) {
  int mul_index = -1;
  const onnx::NodeProto* mul = only_consumer(n.output(0), "Mul", &mul_index);
  if (mul && other_input(*mul, n.output(0)) == n.input(0) && same_layer(n, *mul)) {
    consumed_.insert(mul_index);
    unary(n, "SiLU", {}, mul->output(0), mul);
    return;
  }
  unary(n, "Sigmoid");
}

// Div(x, √2) → Erf → Add 1 → Mul x → Mul 0.5: GELU as PyTorch (and Netloom) export it.
void Importer::map_div(const onnx::NodeProto& n) {
  int i_erf, i_add, i_mul, i_half;
  const onnx::NodeProto *erf = nullptr, *add = nullptr, *mul = nullptr, *half = nullptr;
  if (near(const_scalar(n.input(1)), std::sqrt(2.0)) && (erf = only_consumer(n.output(0), "Erf", &i_erf)) &&
      (add = only_consumer(erf->output(0), "Add", &i_add)) &&
      near(const_scalar(other_input(*add, erf->output(0))), 1.0) &&
      (mul = only_consumer(add->output(0), "Mul", &i_mul)) && other_input(*mul, add->output(0)) == n.input(0) &&
      (half = only_consumer(mul->output(0), "Mul", &i_half)) &&
      near(const_scalar(other_input(*half, mul->output(0))), 0.5) && same_layer(n, *half)) {
    consumed_.insert({i_erf, i_add, i_mul, i_half});
    unary(n, "GELU", {{"approximate", std::string("none")}}, half->output(0), half);
    return;
  }
  no_layer("op Div has a layer only as part of the Erf GELU pattern");
}

// ReduceMean → Sub → Pow 2 → ReduceMean → Add eps → Sqrt → Div (→ Mul scale → Add bias):
// LayerNorm as PyTorch exports it before opset 17 (and Netloom too).
void Importer::map_reduce_mean(const onnx::NodeProto& n) {
  auto axes_of = [&](const onnx::NodeProto& r) {
    return opset_ >= 18 && r.input_size() > 1 ? const_ints(r, 1, "axes") : attr_ints(r, "axes", {});
  };
  std::vector<int64_t> axes = axes_of(n);
  const std::string& x = n.input(0);
  int i_sub, i_pow, i_var, i_add, i_sqrt, i_div, i_mul = -1, i_bias = -1;
  const onnx::NodeProto *sub, *pow, *var, *add, *sqrt, *div, *mul = nullptr, *bias = nullptr;
  auto fail_pattern = [&] { no_layer("op ReduceMean has a layer only as part of the LayerNorm pattern"); };
  if (!(sub = only_consumer(n.output(0), "Sub", &i_sub)) || sub->input(0) != x || !same_layer(n, *sub))
    fail_pattern();
  const std::string& centered = sub->output(0);
  auto users = consumers_.find(centered);
  if (users == consumers_.end() || users->second.size() != 2) fail_pattern();
  i_pow = g_.node(users->second[0]).op_type() == "Pow" ? users->second[0] : users->second[1];
  i_div = i_pow == users->second[0] ? users->second[1] : users->second[0];
  pow = &g_.node(i_pow);
  div = &g_.node(i_div);
  if (pow->op_type() != "Pow" || !near(const_scalar(pow->input(1)), 2.0) || div->op_type() != "Div" ||
      div->input(0) != centered)
    fail_pattern();
  if (!(var = only_consumer(pow->output(0), "ReduceMean", &i_var)) || axes_of(*var) != axes ||
      !(add = only_consumer(var->output(0), "Add", &i_add)) ||
      !(sqrt = only_consumer(add->output(0), "Sqrt", &i_sqrt)) || div->input(1) != sqrt->output(0))
    fail_pattern();
  std::optional<double> eps = const_scalar(other_input(*add, var->output(0)));
  if (!eps) fail_pattern();
  // Trailing axes only: [-k … -1] (or their positive spelling).
  int64_t k = static_cast<int64_t>(axes.size());
  std::vector<int64_t> trailing = axes;
  if (k && axes[0] >= 0) {
    int64_t rank = rank_of(n, x);
    for (auto& a : trailing) a -= rank;
  }
  for (int64_t j = 0; j < k; ++j)
    if (trailing[j] != j - k) no_layer("a LayerNorm pattern over axes that are not the last ones has no layer form");
  const onnx::NodeProto* last = div;
  const Tensor *scale = nullptr, *shift = nullptr;
  if ((mul = only_consumer(div->output(0), "Mul", &i_mul)) && (scale = constant(other_input(*mul, div->output(0))))) {
    last = mul;
    if ((bias = only_consumer(mul->output(0), "Add", &i_bias)) &&
        (shift = constant(other_input(*bias, mul->output(0)))))
      last = bias;
  }
  if (!scale) no_layer("a LayerNorm pattern without a scale has no layer form");
  consumed_.insert({i_sub, i_pow, i_var, i_add, i_sqrt, i_div});
  if (last != div) consumed_.insert(i_mul);
  if (last == bias) consumed_.insert(i_bias);
  NodeId id = unary(n, "LayerNorm", {{"normalized_dims", k}, {"eps", clean(*eps)}}, last->output(0), last);
  set_weight(id, "weight", *scale);
  set_weight(id, "bias", shift ? *shift : zeros(scale->shape()));
}

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

}  // namespace nl::importers::detail
