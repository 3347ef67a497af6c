// Forward outputs and gradients of the tensor-level ops (elementwise, reductions, matmul,
// views, cat/stack/split, dropout) against PyTorch, through the fixtures written by
// tests/make_fixtures.py (see pytorch_parity.h). The network-layer ops are in
// test_pytorch_parity_nn.cpp. Each table entry makes the same call as the script's case of
// that name; `_transposed`/`_permuted`/`_strided` cases take the same view here as there,
// so the op sees a non-contiguous input.
#include <limits>

#include "pytorch_parity.h"

namespace nl {
namespace {

using parity::CaseTable;
using parity::Inputs;
using parity::Outputs;
using UnaryFn = std::function<Tensor(const Tensor&)>;
using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

const CaseTable& elementwise_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    auto unary = [&t](const std::string& name, UnaryFn f) {
      t[name] = [f](const Inputs& in) -> Outputs { return {f(in[0])}; };
    };
    const double inf = std::numeric_limits<double>::infinity();
    std::map<std::string, UnaryFn> ops = {
        {"neg", [](const Tensor& x) { return neg(x); }},
        {"exp", [](const Tensor& x) { return exp(x); }},
        {"log", [](const Tensor& x) { return log(x); }},
        {"sqrt", [](const Tensor& x) { return sqrt(x); }},
        {"rsqrt", [](const Tensor& x) { return rsqrt(x); }},
        {"abs", [](const Tensor& x) { return abs(x); }},
        {"relu", [](const Tensor& x) { return relu(x); }},
        {"leaky_relu", [](const Tensor& x) { return leaky_relu(x); }},
        {"leaky_relu_slope", [](const Tensor& x) { return leaky_relu(x, 0.2); }},
        {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
        {"tanh", [](const Tensor& x) { return tanh(x); }},
        {"gelu", [](const Tensor& x) { return gelu(x); }},
        {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::Tanh); }},
        {"silu", [](const Tensor& x) { return silu(x); }},
        {"softplus", [](const Tensor& x) { return softplus(x); }},
        {"softplus_wide", [](const Tensor& x) { return softplus(x); }},
        {"erf", [](const Tensor& x) { return erf(x); }},
        {"reciprocal", [](const Tensor& x) { return reciprocal(x); }},
        {"square", [](const Tensor& x) { return square(x); }},
        {"sin", [](const Tensor& x) { return sin(x); }},
        {"cos", [](const Tensor& x) { return cos(x); }},
        {"sign", [](const Tensor& x) { return sign(x); }},
        {"floor", [](const Tensor& x) { return floor(x); }},
        {"ceil", [](const Tensor& x) { return ceil(x); }},
        {"round", [](const Tensor& x) { return round(x); }},
        {"pow_2", [](const Tensor& x) { return pow(x, 2.0); }},
        {"pow_3", [](const Tensor& x) { return pow(x, 3.0); }},
        {"pow_0_5", [](const Tensor& x) { return pow(x, 0.5); }},
        {"pow_2_5", [](const Tensor& x) { return pow(x, 2.5); }},
        {"pow_neg1_5", [](const Tensor& x) { return pow(x, -1.5); }},
        {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }},
        {"clamp_lo", [](const Tensor& x) { return clamp(x, -0.3); }},
        {"clamp_hi", [inf](const Tensor& x) { return clamp(x, -inf, 0.4); }},
        {"add_scalar", [](const Tensor& x) { return add(x, 1.5); }},
        {"sub_scalar", [](const Tensor& x) { return sub(x, 0.75); }},
        {"mul_scalar", [](const Tensor& x) { return mul(x, -2.5); }},
        {"div_scalar", [](const Tensor& x) { return div(x, 4.0); }},
        {"rsub_scalar", [](const Tensor& x) { return 2.0 - x; }},
        {"sigmoid_wide", [](const Tensor& x) { return sigmoid(x); }},
        {"tanh_wide", [](const Tensor& x) { return tanh(x); }},
        {"silu_wide", [](const Tensor& x) { return silu(x); }},
        {"gelu_wide", [](const Tensor& x) { return gelu(x); }},
        {"logical_not", [](const Tensor& x) { return logical_not(x); }},
        {"isnan", [](const Tensor& x) { return isnan(x); }},
        {"sum_to", [](const Tensor& x) { return sum_to(x, {3, 1}); }},
        {"mul_self", [](const Tensor& x) { return mul(x, x); }},
        {"add_self_transposed", [](const Tensor& x) { return add(x, x.t()); }},
        {"relu_at_zero", [](const Tensor& x) { return relu(x); }},
        {"abs_at_zero", [](const Tensor& x) { return abs(x); }},
        {"leaky_relu_at_zero", [](const Tensor& x) { return leaky_relu(x); }},
        {"sign_at_zero", [](const Tensor& x) { return sign(x); }},
        {"clamp_at_bounds", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }},
    };
    for (const auto& [name, f] : ops) unary(name, f);
    for (const char* name : {"neg", "exp", "sigmoid", "gelu", "abs", "clamp", "pow_2_5", "mul_scalar"}) {
      UnaryFn f = ops.at(name);
      unary(std::string(name) + "_transposed", [f](const Tensor& x) { return f(x.t()); });
    }
    unary("tanh_permuted", [](const Tensor& x) { return tanh(x.permute({2, 0, 1})); });
    unary("sin_strided", [](const Tensor& x) { return sin(x.slice(0, 0, 6, 2).slice(1, 1, 5, 2)); });

    std::map<std::string, BinaryFn> binary = {
        {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
        {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
        {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
        {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }},
        {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
        {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
        {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
        {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }},
        {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }},
        {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }},
        {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }},
        {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }},
        {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }},
    };
    auto add_binary = [&t](const std::string& name, BinaryFn f, bool transpose_a) {
      t[name] = [f, transpose_a](const Inputs& in) -> Outputs { return {f(transpose_a ? in[0].t() : in[0], in[1])}; };
    };
    // Operand layouts are given by the fixture's shapes; only the transposed one needs a view.
    for (const char* op : {"add", "sub", "mul", "div", "maximum", "minimum", "pow"}) {
      for (const char* layout : {"", "_bcast_row", "_bcast_both", "_bcast_scalar", "_bcast_lhs"})
        add_binary(std::string(op) + layout, binary.at(op), false);
      add_binary(std::string(op) + "_transposed", binary.at(op), true);
    }
    for (const char* op : {"eq", "ne", "lt", "le", "gt", "ge"}) {
      add_binary(op, binary.at(op), false);
      add_binary(std::string(op) + "_broadcast", binary.at(op), false);
    }
    add_binary("lt_transposed", binary.at("lt"), true);
    add_binary("maximum_ties", binary.at("maximum"), false);
    add_binary("minimum_ties", binary.at("minimum"), false);
    add_binary("logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); }, false);
    add_binary("logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); }, false);
    add_binary("add_int64", binary.at("add"), false);
    add_binary("mul_int64", binary.at("mul"), false);
    add_binary("div_int64", binary.at("div"), false);
    unary("eq_scalar", [](const Tensor& x) { return eq(x, 1.0); });
    unary("lt_scalar", [](const Tensor& x) { return lt(x, 1.0); });
    unary("gt_scalar", [](const Tensor& x) { return gt(x, 1.0); });
    unary("ge_scalar", [](const Tensor& x) { return ge(x, 1.0); });

    t["where"] = [](const Inputs& in) -> Outputs { return {where(in[0], in[1], in[2])}; };
    t["where_broadcast"] = t["where"];
    t["where_transposed"] = [](const Inputs& in) -> Outputs { return {where(in[0], in[1].t(), in[2])}; };

    // In-place updates work on a copy; the updated tensor is the output.
    t["add_inplace"] = [](const Inputs& in) -> Outputs {
      Tensor s = in[0].clone();
      add_(s, in[1], 0.5);
      return {s};
    };
    t["add_inplace_transposed"] = [](const Inputs& in) -> Outputs {
      Tensor s = in[0].clone().t();
      add_(s, in[1]);
      return {s};
    };
    t["mul_inplace_scalar"] = [](const Inputs& in) -> Outputs {
      Tensor s = in[0].clone();
      mul_(s, -1.5);
      return {s};
    };
    t["mul_inplace"] = [](const Inputs& in) -> Outputs {
      Tensor s = in[0].clone();
      mul_(s, in[1]);
      return {s};
    };
    t["copy_inplace"] = [](const Inputs& in) -> Outputs {
      Tensor s = in[0].clone();
      copy_(s, in[1]);
      return {s};
    };
    t["fill_inplace"] = [](const Inputs& in) -> Outputs {
      Tensor s = in[0].clone();
      fill_(s, 2.5);
      return {s};
    };
    t["zero_inplace"] = [](const Inputs& in) -> Outputs {
      Tensor s = in[0].clone();
      zero_(s);
      return {s};
    };
    return t;
  }();
  return table;
}

const CaseTable& reduce_cases() {
  static const CaseTable table = [] {
    // op(x, dims, keepdim); `all` reduces everything through the op's all-elements form.
    using ReduceFn = std::function<Tensor(const Tensor&, const std::vector<int64_t>&, bool)>;
    using AllFn = std::function<Tensor(const Tensor&)>;
    std::vector<std::tuple<std::string, ReduceFn, AllFn>> ops = {
        {"sum", [](const Tensor& x, auto d, bool k) { return sum(x, d, k); }, [](const Tensor& x) { return sum(x); }},
        {"mean", [](const Tensor& x, auto d, bool k) { return mean(x, d, k); }, [](const Tensor& x) { return mean(x); }},
        {"amax", [](const Tensor& x, auto d, bool k) { return amax(x, d, k); }, [](const Tensor& x) { return amax(x); }},
        {"amin", [](const Tensor& x, auto d, bool k) { return amin(x, d, k); }, [](const Tensor& x) { return amin(x); }},
        {"var", [](const Tensor& x, auto d, bool k) { return var(x, d, 1, k); }, [](const Tensor& x) { return var(x); }},
        {"std", [](const Tensor& x, auto d, bool k) { return stddev(x, d, 1, k); },
         [](const Tensor& x) { return stddev(x); }},
        {"logsumexp", [](const Tensor& x, auto d, bool k) { return logsumexp(x, d, k); },
         [](const Tensor& x) { return logsumexp(x, {0, 1, 2}); }},
    };
    CaseTable t;
    auto reduce_case = [&t](const std::string& name, ReduceFn f, std::vector<int64_t> dims, bool keep) {
      t[name] = [f, dims, keep](const Inputs& in) -> Outputs { return {f(in[0], dims, keep)}; };
    };
    for (const auto& entry : ops) {
      const auto& [op, f, all] = entry;  // copied into the lambdas below by name
      ReduceFn fn = f;
      AllFn all_fn = all;
      t[op + "_all"] = [all_fn](const Inputs& in) -> Outputs { return {all_fn(in[0])}; };
      reduce_case(op + "_d0", fn, {0}, false);
      reduce_case(op + "_d1_keepdim", fn, {1}, true);
      reduce_case(op + "_d02", fn, {0, 2}, false);
      reduce_case(op + "_d12_keepdim", fn, {1, 2}, true);
      reduce_case(op + "_neg1", fn, {-1}, false);
      t[op + "_transposed"] = [fn](const Inputs& in) -> Outputs { return {fn(in[0].t(), {1}, false)}; };
      t[op + "_permuted"] = [fn](const Inputs& in) -> Outputs { return {fn(in[0].permute({2, 0, 1}), {0, 2}, true)}; };
    }
    for (int64_t c : {0, 2}) {
      t["var_correction" + std::to_string(c)] = [c](const Inputs& in) -> Outputs { return {var(in[0], {1}, c)}; };
      t["std_correction" + std::to_string(c)] = [c](const Inputs& in) -> Outputs {
        return {stddev(in[0], {0, 2}, c, true)};
      };
    }
    t["amax_ties"] = [](const Inputs& in) -> Outputs { return {amax(in[0], {1})}; };
    t["amax_ties_all"] = [](const Inputs& in) -> Outputs { return {amax(in[0])}; };
    t["amin_ties"] = [](const Inputs& in) -> Outputs { return {amin(in[0], {1})}; };
    t["amin_ties_all"] = [](const Inputs& in) -> Outputs { return {amin(in[0])}; };
    t["logsumexp_large"] = [](const Inputs& in) -> Outputs { return {logsumexp(in[0], {1})}; };
    t["mean_int64"] = [](const Inputs& in) -> Outputs { return {mean(in[0], {1})}; };
    t["var_single"] = [](const Inputs& in) -> Outputs { return {var(in[0], {1})}; };
    t["sum_empty"] = [](const Inputs& in) -> Outputs { return {sum(in[0], {1})}; };
    t["mean_empty"] = t["mean_int64"];
    t["logsumexp_masked"] = t["logsumexp_large"];
    t["sum_int64"] = [](const Inputs& in) -> Outputs { return {sum(in[0], {0})}; };
    t["argmax_ties"] = [](const Inputs& in) -> Outputs { return {argmax(in[0], 1)}; };
    t["argmin_ties"] = [](const Inputs& in) -> Outputs { return {argmin(in[0], 1)}; };
    using ArgFn = Tensor (*)(const Tensor&, int64_t, bool);
    for (auto [op, arg] : {std::pair<std::string, ArgFn>{"argmax", argmax}, {"argmin", argmin}}) {
      ArgFn f = arg;
      t[op + "_d0"] = [f](const Inputs& in) -> Outputs { return {f(in[0], 0, false)}; };
      t[op + "_d1_keepdim"] = [f](const Inputs& in) -> Outputs { return {f(in[0], 1, true)}; };
      t[op + "_neg1"] = [f](const Inputs& in) -> Outputs { return {f(in[0], -1, false)}; };
      t[op + "_transposed"] = [f](const Inputs& in) -> Outputs { return {f(in[0].t(), 1, false)}; };
    }
    return t;
  }();
  return table;
}

const CaseTable& matmul_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    auto mm = [](const Inputs& in) -> Outputs { return {matmul(in[0], in[1])}; };
    for (const char* shapes : {"dot", "vm", "mv", "mm", "bmm", "bcast_3d_2d", "bcast_2d_3d", "bcast_batch",
                               "batched_vec", "vec_batched", "bmm_1x1", "empty_k",
                               "bmm_empty_k", "dot_empty"})
      t[std::string("matmul_") + shapes] = mm;
    t["matmul_self_t"] = [](const Inputs& in) -> Outputs { return {matmul(in[0], in[0].t())}; };
    t["matmul_transposed_a"] = [](const Inputs& in) -> Outputs { return {matmul(in[0].t(), in[1])}; };
    t["matmul_transposed_b"] = [](const Inputs& in) -> Outputs { return {matmul(in[0], in[1].t())}; };
    t["matmul_transposed_both"] = [](const Inputs& in) -> Outputs { return {matmul(in[0].t(), in[1].t())}; };
    t["matmul_bmm_transposed"] = [](const Inputs& in) -> Outputs { return {matmul(in[0].transpose(1, 2), in[1])}; };
    t["matmul_strided"] = [](const Inputs& in) -> Outputs {
      return {matmul(in[0].slice(0, 0, 6, 2), in[1].slice(1, 1, 6))};
    };
    t["matmul_expanded"] = [](const Inputs& in) -> Outputs { return {matmul(in[0], in[1].expand({3, 4, 2}))}; };
    auto lin = [](const Inputs& in) -> Outputs { return {linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor())}; };
    for (const char* name : {"linear", "linear_nobias", "linear_3d", "linear_1d"}) t[name] = lin;
    t["linear_transposed"] = [](const Inputs& in) -> Outputs { return {linear(in[0].t(), in[1], in[2])}; };
    return t;
  }();
  return table;
}

const CaseTable& views_cases() {
  static const CaseTable table = [] {
    std::map<std::string, UnaryFn> ops = {
        {"reshape", [](const Tensor& x) { return x.reshape({2, 6}); }},
        {"reshape_infer", [](const Tensor& x) { return x.reshape({-1, 4}); }},
        {"reshape_transposed", [](const Tensor& x) { return x.t().reshape({12}); }},
        {"view", [](const Tensor& x) { return x.view({6, 4}); }},
        {"view_transposed", [](const Tensor& x) { return x.transpose(0, 1).view({3, 2, 2, 2}); }},
        {"flatten", [](const Tensor& x) { return x.flatten(); }},
        {"flatten_1_2", [](const Tensor& x) { return x.flatten(1, 2); }},
        {"flatten_transposed", [](const Tensor& x) { return x.transpose(0, 2).flatten(1); }},
        {"transpose", [](const Tensor& x) { return x.transpose(0, 2); }},
        {"t", [](const Tensor& x) { return x.t(); }},
        {"permute", [](const Tensor& x) { return x.permute({2, 0, 1}); }},
        {"narrow", [](const Tensor& x) { return x.narrow(1, 1, 2); }},
        {"narrow_neg_start", [](const Tensor& x) { return x.narrow(0, -2, 2); }},
        {"slice_step", [](const Tensor& x) { return x.slice(1, 0, 5, 2); }},
        {"slice_neg", [](const Tensor& x) { return x.slice(1, -5, -1, 2); }},
        {"slice_transposed", [](const Tensor& x) { return x.t().slice(0, 1, 6, 2); }},
        {"select", [](const Tensor& x) { return x.select(1, 2); }},
        {"select_neg", [](const Tensor& x) { return x.select(0, -1); }},
        {"expand", [](const Tensor& x) { return x.expand({2, 3, 4}); }},
        {"expand_keep", [](const Tensor& x) { return x.expand({2, -1, 4}); }},
        {"squeeze", [](const Tensor& x) { return x.squeeze(); }},
        {"squeeze_dim", [](const Tensor& x) { return x.squeeze(2); }},
        {"unsqueeze", [](const Tensor& x) { return x.unsqueeze(1); }},
        {"unsqueeze_neg", [](const Tensor& x) { return x.unsqueeze(-1); }},
        {"contiguous_transposed", [](const Tensor& x) { return x.t().contiguous(); }},
        {"clone", [](const Tensor& x) { return x.clone(); }},
        {"to_float64_and_back", [](const Tensor& x) { return x.to(DType::Float64).to(DType::Float32); }},
        {"chain", [](const Tensor& x) {
           return x.permute({1, 0, 2}).slice(0, 1, 3).slice(2, 0, 4, 2).reshape({-1}).unsqueeze(0);
         }},
    };
    CaseTable t;
    for (const auto& [name, f] : ops) {
      UnaryFn fn = f;
      t[name] = [fn](const Inputs& in) -> Outputs { return {fn(in[0])}; };
    }
    return t;
  }();
  return table;
}

const CaseTable& movement_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    t["cat_d0"] = [](const Inputs& in) -> Outputs { return {cat(in, 0)}; };
    t["cat_d1"] = [](const Inputs& in) -> Outputs { return {cat(in, 1)}; };
    t["cat_neg1"] = [](const Inputs& in) -> Outputs { return {cat(in, -1)}; };
    t["cat_transposed"] = [](const Inputs& in) -> Outputs { return {cat({in[0].t(), in[1]}, 0)}; };
    t["cat_int64_float"] = t["cat_d0"];
    t["cat_with_empty"] = t["cat_d0"];
    t["cat_self"] = [](const Inputs& in) -> Outputs { return {cat({in[0], in[0]}, 1)}; };
    t["stack_d0"] = [](const Inputs& in) -> Outputs { return {stack(in, 0)}; };
    t["stack_d1"] = [](const Inputs& in) -> Outputs { return {stack(in, 1)}; };
    t["stack_neg1"] = [](const Inputs& in) -> Outputs { return {stack(in, -1)}; };
    t["stack_transposed"] = [](const Inputs& in) -> Outputs { return {stack({in[0].t(), in[1]}, 0)}; };
    t["split_sizes"] = [](const Inputs& in) -> Outputs { return split(in[0], std::vector<int64_t>{2, 3}, 0); };
    t["split_int"] = [](const Inputs& in) -> Outputs { return split(in[0], int64_t{3}, 0); };
    t["split_d1"] = [](const Inputs& in) -> Outputs { return split(in[0], std::vector<int64_t>{1, 2, 3}, 1); };
    t["split_transposed"] = [](const Inputs& in) -> Outputs { return split(in[0].t(), int64_t{2}, 1); };
    t["chunk"] = [](const Inputs& in) -> Outputs { return chunk(in[0], 3, 0); };
    t["chunk_uneven"] = [](const Inputs& in) -> Outputs { return chunk(in[0], 2, -1); };
    return t;
  }();
  return table;
}

const CaseTable& random_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    t["dropout_eval"] = [](const Inputs& in) -> Outputs { return {dropout(in[0], 0.5, false)}; };
    t["dropout_p0"] = [](const Inputs& in) -> Outputs { return {dropout(in[0], 0.0, true)}; };
    t["dropout_p1"] = [](const Inputs& in) -> Outputs { return {dropout(in[0], 1.0, true)}; };
    return t;
  }();
  return table;
}

}  // namespace
}  // namespace nl

class PytorchParity : public QObject {
  Q_OBJECT

 private slots:
  void elementwise_data() { nl::parity::add_rows("elementwise", nl::elementwise_cases()); }
  void elementwise() { nl::parity::check_row("elementwise", nl::elementwise_cases()); }
  void reduce_data() { nl::parity::add_rows("reduce", nl::reduce_cases()); }
  void reduce() { nl::parity::check_row("reduce", nl::reduce_cases()); }
  void matmul_data() { nl::parity::add_rows("matmul", nl::matmul_cases()); }
  void matmul() { nl::parity::check_row("matmul", nl::matmul_cases()); }
  void views_data() { nl::parity::add_rows("views", nl::views_cases()); }
  void views() { nl::parity::check_row("views", nl::views_cases()); }
  void movement_data() { nl::parity::add_rows("movement", nl::movement_cases()); }
  void movement() { nl::parity::check_row("movement", nl::movement_cases()); }
  void random_data() { nl::parity::add_rows("random", nl::random_cases()); }
  void random() { nl::parity::check_row("random", nl::random_cases()); }
};

QTEST_APPLESS_MAIN(PytorchParity)
#include "test_pytorch_parity.moc"
