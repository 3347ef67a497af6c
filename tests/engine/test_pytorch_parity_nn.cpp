// Forward outputs and gradients of the network-layer ops (conv2d, pooling, batch/layer norm,
// softmax, cross-entropy, embedding/gather/index_select) against PyTorch, through the
// fixtures written by tests/make_fixtures.py (see pytorch_parity.h). Each table entry makes
// the same call as the script's case of that name; `_transposed`/`_permuted` cases take the
// same view here as there, so the op sees a non-contiguous input.
#include <array>

#include "pytorch_parity.h"

namespace nl {
namespace {

using parity::CaseFn;
using parity::CaseTable;
using parity::Inputs;
using parity::Outputs;

Conv2dParams conv_params(std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                         std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1) {
  Conv2dParams p;
  for (int i = 0; i < 2; ++i) {
    p.stride[i] = stride[i];
    p.padding[i] = padding[i];
    p.dilation[i] = dilation[i];
  }
  p.groups = groups;
  return p;
}

const CaseTable& conv_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    // Inputs x, weight and, when the case has one, bias.
    auto conv = [](Conv2dParams p) -> CaseFn {
      return [p](const Inputs& in) -> Outputs { return {conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), p)}; };
    };
    t["conv2d"] = conv(conv_params({1, 1}, {0, 0}));
    t["conv2d_nobias"] = conv(conv_params({1, 1}, {0, 0}));
    t["conv2d_stride2"] = conv(conv_params({2, 2}, {0, 0}));
    t["conv2d_pad1"] = conv(conv_params({1, 1}, {1, 1}));
    t["conv2d_stride2_pad1"] = conv(conv_params({2, 2}, {1, 1}));
    t["conv2d_dilation2"] = conv(conv_params({1, 1}, {2, 2}, {2, 2}));
    t["conv2d_asymmetric"] = conv(conv_params({2, 1}, {0, 1}, {1, 2}));
    t["conv2d_groups2"] = conv(conv_params({1, 1}, {1, 1}, {1, 1}, 2));
    t["conv2d_depthwise"] = conv(conv_params({1, 1}, {1, 1}, {1, 1}, 3));
    t["conv2d_depthwise_mult"] = conv(conv_params({2, 2}, {1, 1}, {1, 1}, 3));
    t["conv2d_1x1"] = conv(conv_params({1, 1}, {0, 0}));
    t["conv2d_rect"] = conv(conv_params({1, 2}, {1, 0}));
    t["conv2d_weight_permuted"] = [](const Inputs& in) -> Outputs {
      return {conv2d(in[0], in[1].permute({3, 2, 0, 1}), Tensor(), conv_params({1, 1}, {0, 0}))};
    };
    t["conv2d_permuted"] = [](const Inputs& in) -> Outputs {
      return {conv2d(in[0].permute({0, 3, 1, 2}), in[1], in[2], conv_params({1, 1}, {1, 1}))};
    };
    return t;
  }();
  return table;
}

Pool2dParams pool_params(std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                         std::array<int64_t, 2> dilation = {1, 1}, bool ceil_mode = false,
                         bool count_include_pad = true) {
  Pool2dParams p;
  for (int i = 0; i < 2; ++i) {
    p.kernel[i] = kernel[i];
    p.stride[i] = stride[i];
    p.padding[i] = padding[i];
    p.dilation[i] = dilation[i];
  }
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

const CaseTable& pool_cases() {
  static const CaseTable table = [] {
    // The script's pool specs; max pool skips the *_nocount ones, avg pool the dilated one.
    std::map<std::string, Pool2dParams> specs = {
        {"k2", pool_params({2, 2}, {2, 2}, {0, 0})},
        {"k3s2", pool_params({3, 3}, {2, 2}, {0, 0})},
        {"k3s1", pool_params({3, 3}, {1, 1}, {0, 0})},
        {"pad1", pool_params({3, 3}, {2, 2}, {1, 1})},
        {"pad1_nocount", pool_params({3, 3}, {2, 2}, {1, 1}, {1, 1}, false, false)},
        {"ceil", pool_params({2, 2}, {2, 2}, {0, 0}, {1, 1}, true)},
        {"ceil_pad_nocount", pool_params({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, false)},
        {"ceil_pad", pool_params({3, 3}, {2, 2}, {1, 1}, {1, 1}, true)},
        {"rect", pool_params({2, 3}, {1, 2}, {1, 1})},
        {"dilation2", pool_params({2, 2}, {1, 1}, {0, 0}, {2, 2})},
    };
    CaseTable t;
    for (const auto& [name, params] : specs) {
      Pool2dParams p = params;
      if (p.count_include_pad)
        t["max_pool2d_" + name] = [p](const Inputs& in) -> Outputs { return {max_pool2d(in[0], p)}; };
      if (p.dilation[0] == 1)
        t["avg_pool2d_" + name] = [p](const Inputs& in) -> Outputs { return {avg_pool2d(in[0], p)}; };
    }
    Pool2dParams k2 = specs.at("k2");
    t["max_pool2d_ties"] = t["max_pool2d_k2"];
    t["max_pool2d_permuted"] = [k2](const Inputs& in) -> Outputs { return {max_pool2d(in[0].permute({0, 3, 1, 2}), k2)}; };
    t["avg_pool2d_permuted"] = [k2](const Inputs& in) -> Outputs { return {avg_pool2d(in[0].permute({0, 3, 1, 2}), k2)}; };
    return t;
  }();
  return table;
}

const CaseTable& norm_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    // Inputs x, weight, bias, running_mean, running_var; the outputs include the running
    // statistics after the call, which batch_norm updates in place in training.
    auto bn = [](bool training, double momentum = 0.1, double eps = 1e-5, bool permute = false) -> CaseFn {
      return [=](const Inputs& in) -> Outputs {
        Tensor x = permute ? in[0].permute({0, 3, 1, 2}) : in[0];
        Tensor y = batch_norm(x, in[1], in[2], in[3], in[4], training, momentum, eps);
        return {y, in[3], in[4]};
      };
    };
    for (const char* name : {"batch_norm_train", "batch_norm_train_2d", "batch_norm_train_3d"}) t[name] = bn(true);
    t["batch_norm_train_momentum"] = bn(true, 0.3, 1e-3);
    t["batch_norm_eval"] = bn(false);
    t["batch_norm_eval_2d"] = bn(false);
    t["batch_norm_permuted"] = bn(true, 0.1, 1e-5, true);
    for (bool training : {true, false}) {
      t[training ? "batch_norm_train_noaffine" : "batch_norm_eval_noaffine"] = [training](const Inputs& in) -> Outputs {
        return {batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], training), in[1], in[2]};
      };
    }
    t["batch_norm_train_nostats"] = [](const Inputs& in) -> Outputs {
      return {batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true)};
    };
    t["layer_norm"] = [](const Inputs& in) -> Outputs { return {layer_norm(in[0], {4}, in[1], in[2])}; };
    t["layer_norm_constant_rows"] = t["layer_norm"];
    t["layer_norm_2dims"] = [](const Inputs& in) -> Outputs { return {layer_norm(in[0], {3, 4}, in[1], in[2])}; };
    t["layer_norm_noaffine"] = [](const Inputs& in) -> Outputs { return {layer_norm(in[0], {5})}; };
    t["layer_norm_eps"] = [](const Inputs& in) -> Outputs { return {layer_norm(in[0], {4}, in[1], in[2], 0.1)}; };
    t["layer_norm_transposed"] = [](const Inputs& in) -> Outputs {
      return {layer_norm(in[0].t(), {3}, in[1], in[2])};
    };
    return t;
  }();
  return table;
}

const CaseTable& softmax_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    using SoftmaxFn = Tensor (*)(const Tensor&, int64_t);
    for (auto [name, op] : {std::pair<std::string, SoftmaxFn>{"softmax", softmax}, {"log_softmax", log_softmax}}) {
      SoftmaxFn f = op;
      for (int64_t d : {0, 1, 2})
        t[name + "_d" + std::to_string(d)] = [f, d](const Inputs& in) -> Outputs { return {f(in[0], d)}; };
      t[name + "_neg1"] = [f](const Inputs& in) -> Outputs { return {f(in[0], -1)}; };
      t[name + "_large"] = [f](const Inputs& in) -> Outputs { return {f(in[0], 1)}; };
      t[name + "_masked"] = t[name + "_large"];
      t[name + "_size1"] = t[name + "_large"];
      t[name + "_1d"] = [f](const Inputs& in) -> Outputs { return {f(in[0], 0)}; };
      t[name + "_transposed"] = [f](const Inputs& in) -> Outputs { return {f(in[0].t(), 1)}; };
    }
    return t;
  }();
  return table;
}

const CaseTable& loss_cases() {
  static const CaseTable table = [] {
    // Inputs logits and Int64 targets.
    auto ce = [](Reduction r = Reduction::Mean, int64_t ignore_index = -100, double smoothing = 0.0) -> CaseFn {
      return [=](const Inputs& in) -> Outputs { return {cross_entropy(in[0], in[1], r, ignore_index, smoothing)}; };
    };
    CaseTable t;
    t["cross_entropy"] = ce();
    t["cross_entropy_sum"] = ce(Reduction::Sum);
    t["cross_entropy_none"] = ce(Reduction::None);
    t["cross_entropy_ignore"] = ce();
    t["cross_entropy_ignore_sum"] = ce(Reduction::Sum);
    t["cross_entropy_ignore_none"] = ce(Reduction::None);
    t["cross_entropy_ignore_class"] = ce(Reduction::Mean, 2);
    t["cross_entropy_smoothing"] = ce(Reduction::Mean, -100, 0.1);
    t["cross_entropy_smoothing_sum"] = ce(Reduction::Sum, -100, 0.2);
    t["cross_entropy_smoothing_none"] = ce(Reduction::None, -100, 0.1);
    t["cross_entropy_smoothing_ignore"] = ce(Reduction::Mean, -100, 0.1);
    t["cross_entropy_smoothing_ignore_none"] = ce(Reduction::None, -100, 0.1);
    t["cross_entropy_all_ignored"] = ce();
    t["cross_entropy_nd"] = ce();
    t["cross_entropy_nd_none"] = ce(Reduction::None);
    t["cross_entropy_nd2"] = ce();
    t["cross_entropy_nd_ignore_smoothing"] = ce(Reduction::Mean, 1, 0.1);
    t["cross_entropy_transposed"] = [](const Inputs& in) -> Outputs { return {cross_entropy(in[0].t(), in[1])}; };
    return t;
  }();
  return table;
}

const CaseTable& indexing_cases() {
  static const CaseTable table = [] {
    CaseTable t;
    // embedding: inputs weight and Int64 indices.
    t["embedding"] = [](const Inputs& in) -> Outputs { return {embedding(in[0], in[1])}; };
    t["embedding_2d"] = t["embedding"];
    t["embedding_transposed"] = [](const Inputs& in) -> Outputs { return {embedding(in[0].t(), in[1])}; };
    for (auto [name, dim] : std::vector<std::pair<std::string, int64_t>>{
             {"gather_d0", 0}, {"gather_d1", 1}, {"gather_d2", 2}, {"gather_neg1", -1}, {"gather_small", 1}}) {
      int64_t d = dim;
      t[name] = [d](const Inputs& in) -> Outputs { return {gather(in[0], d, in[1])}; };
    }
    t["gather_transposed"] = [](const Inputs& in) -> Outputs { return {gather(in[0].t(), 1, in[1])}; };
    for (auto [name, dim] : std::vector<std::pair<std::string, int64_t>>{
             {"index_select_d0", 0}, {"index_select_d1", 1}, {"index_select_neg1", -1}, {"index_select_empty", 1}}) {
      int64_t d = dim;
      t[name] = [d](const Inputs& in) -> Outputs { return {index_select(in[0], d, in[1])}; };
    }
    t["index_select_transposed"] = [](const Inputs& in) -> Outputs { return {index_select(in[0].t(), 0, in[1])}; };
    return t;
  }();
  return table;
}

}  // namespace
}  // namespace nl

class PytorchParityNn : public QObject {
  Q_OBJECT

 private slots:
  void conv_data() { nl::parity::add_rows("conv", nl::conv_cases()); }
  void conv() { nl::parity::check_row("conv", nl::conv_cases()); }
  void pool_data() { nl::parity::add_rows("pool", nl::pool_cases()); }
  void pool() { nl::parity::check_row("pool", nl::pool_cases()); }
  void norm_data() { nl::parity::add_rows("norm", nl::norm_cases()); }
  void norm() { nl::parity::check_row("norm", nl::norm_cases()); }
  void softmax_data() { nl::parity::add_rows("softmax", nl::softmax_cases()); }
  void softmax() { nl::parity::check_row("softmax", nl::softmax_cases()); }
  void loss_data() { nl::parity::add_rows("loss", nl::loss_cases()); }
  void loss() { nl::parity::check_row("loss", nl::loss_cases()); }
  void indexing_data() { nl::parity::add_rows("indexing", nl::indexing_cases()); }
  void indexing() { nl::parity::check_row("indexing", nl::indexing_cases()); }
};

QTEST_APPLESS_MAIN(PytorchParityNn)
#include "test_pytorch_parity_nn.moc"
