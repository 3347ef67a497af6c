// Multi-node patterns that exporters write for one layer, folded back into that layer:
// x·Sigmoid(x) → SiLU, the Erf and tanh GELU, the ReduceMean/Sub/Pow/Sqrt/Div LayerNorm. A
// node that starts no pattern throws NoLayer and becomes a generic op (Note [Layers first]).
#include <cmath>

#include "engine/ops/elementwise.h"
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

bool Importer::map_tanh_gelu(const onnx::NodeProto& n) {
  const std::string& x = n.input(0);
  if (n.input_size() != 2 || n.input(1) != x) return false;
  int i_cube, i_kc, i_inner, i_scaled, i_tanh, i_one, i_xm, i_half;
  const onnx::NodeProto *cube, *kc, *inner, *scaled, *th, *one, *xm, *half;
  if (!(cube = only_consumer(n.output(0), "Mul", &i_cube)) || other_input(*cube, n.output(0)) != x ||
      !(kc = only_consumer(cube->output(0), "Mul", &i_kc)) || !near(const_scalar(other_input(*kc, cube->output(0))), 0.044715) ||
      !(inner = only_consumer(kc->output(0), "Add", &i_inner)) || other_input(*inner, kc->output(0)) != x ||
      !(scaled = only_consumer(inner->output(0), "Mul", &i_scaled)) ||
      !near(const_scalar(other_input(*scaled, inner->output(0))), std::sqrt(2.0 / M_PI)) ||
      !(th = only_consumer(scaled->output(0), "Tanh", &i_tanh)) ||
      !(one = only_consumer(th->output(0), "Add", &i_one)) || !near(const_scalar(other_input(*one, th->output(0))), 1.0) ||
      !(xm = only_consumer(one->output(0), "Mul", &i_xm)) || other_input(*xm, one->output(0)) != x ||
      !(half = only_consumer(xm->output(0), "Mul", &i_half)) || !near(const_scalar(other_input(*half, xm->output(0))), 0.5) ||
      !same_layer(n, *half))
    return false;
  consumed_.insert({i_cube, i_kc, i_inner, i_scaled, i_tanh, i_one, i_xm, i_half});
  unary(n, "GELU", {{"approximate", std::string("tanh")}}, half->output(0), half);
  return true;
}

}  // namespace nl::importers::detail
