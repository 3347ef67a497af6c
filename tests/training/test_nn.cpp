// Tests of nl::nn: every layer and loss against PyTorch (tests/data/pytorch_nn.safetensors,
// written by tests/training/make_nn_fixtures.py), state_dict names and round trips, load
// errors, train/eval behaviour, initialiser statistics and a gradient check of a composite.
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <cmath>
#include <functional>
#include <set>

#include "engine/nn/nn.h"
#include "engine/optim/adam.h"
#include "pytorch_parity.h"
#include "testing.h"

using namespace nl;
using namespace nl::nn;
namespace F = nl::nn::functional;

namespace {

// torch's BasicBlock-like residual block, with the same child names as ResBlock in
// make_nn_fixtures.py: conv1, bn1, conv2, bn2 and a shortcut Sequential (empty = identity).
class ResBlock : public Module {
 public:
  ResBlock(int64_t cin, int64_t cout, int64_t stride) {
    conv1 = register_module("conv1", std::make_shared<Conv2d>(cin, cout, 3, Conv2dOptions{.stride = {stride, stride}, .padding = {1, 1}, .bias = false}));
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(cout));
    conv2 = register_module("conv2", std::make_shared<Conv2d>(cout, cout, 3, Conv2dOptions{.padding = {1, 1}, .bias = false}));
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(cout));
    shortcut = register_module("shortcut", std::make_shared<Sequential>());
    if (stride != 1 || cin != cout) {
      shortcut->push_back(std::make_shared<Conv2d>(cin, cout, 1, Conv2dOptions{.stride = {stride, stride}, .bias = false}));
      shortcut->push_back(std::make_shared<BatchNorm2d>(cout));
    }
  }
  using Module::forward;
  Tensor forward(const Tensor& x) override {
    Tensor y = relu(bn1->forward(conv1->forward(x)));
    y = bn2->forward(conv2->forward(y));
    return relu(add.forward({y, shortcut->forward(x)}));
  }
  std::string type_name() const override { return "ResBlock"; }

  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Sequential> shortcut;
  Add add;
};

std::shared_ptr<Sequential> tiny_resnet() {
  auto blocks = std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<ResBlock>(4, 4, 1), std::make_shared<ResBlock>(4, 6, 2)});
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Conv2d>(3, 4, 3, Conv2dOptions{.padding = {1, 1}, .bias = false}), std::make_shared<BatchNorm2d>(4),
      std::make_shared<ReLU>(), blocks, std::make_shared<AdaptiveAvgPool2d>(1), std::make_shared<Flatten>(),
      std::make_shared<Linear>(6, 3)});
}

// A fixture case is either a layer (built, put in the given mode, loaded with PyTorch's
// state_dict, run) or a plain function of the inputs (losses, Add/Concat as functions).
struct NnCase {
  std::function<ModulePtr()> make;
  bool train = false;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  // For layers called other than as forward(inputs): recurrent states, masks, attention weights.
  std::function<Tensor(Module&, const std::vector<Tensor>&)> call;
};

// A layer case whose output is call(module, inputs) (make_nn_fixtures.py's module_call).
template <class M, class... A>
NnCase module_call(std::function<Tensor(M&, const std::vector<Tensor>&)> call, A... args) {
  return {[=] { return std::static_pointer_cast<Module>(std::make_shared<M>(args...)); }, false, nullptr,
          [call](Module& m, const std::vector<Tensor>& in) { return call(static_cast<M&>(m), in); }};
}

template <class M, class... A>
NnCase layer(bool train, A... args) {
  return {[=] { return std::static_pointer_cast<Module>(std::make_shared<M>(args...)); }, train, nullptr, nullptr};
}
NnCase function_case(std::function<Tensor(const std::vector<Tensor>&)> fn) { return {nullptr, false, std::move(fn), nullptr}; }

std::map<std::string, NnCase> nn_cases() {
  std::map<std::string, NnCase> t;
  t["linear"] = layer<Linear>(false, 5, 3);
  t["linear_nobias_3d"] = layer<Linear>(false, 5, 3, false);
  t["conv2d_stride2_pad1"] = layer<Conv2d>(false, 3, 4, 3, Conv2dOptions{.stride = {2, 2}, .padding = {1, 1}});
  t["conv2d_same_dilated"] = layer<Conv2d>(false, 2, 3, std::array<int64_t, 2>{4, 3}, Conv2dOptions{.same_padding = true, .dilation = {1, 2}});
  t["conv2d_groups_nobias"] = layer<Conv2d>(false, 4, 6, 3, Conv2dOptions{.groups = 2, .bias = false});
  t["conv1d_stride2_pad1"] = layer<Conv1d>(false, 3, 4, 3, Conv1dOptions{.stride = 2, .padding = 1});
  t["conv1d_same_dilated"] = layer<Conv1d>(false, 2, 3, 4, Conv1dOptions{.same_padding = true, .dilation = 2});
  t["convtranspose2d_stride2_outpad"] = layer<ConvTranspose2d>(
      false, 3, 2, 3, ConvTranspose2dOptions{.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}});
  t["convtranspose2d_groups_dilated"] = layer<ConvTranspose2d>(
      false, 4, 6, std::array<int64_t, 2>{2, 3},
      ConvTranspose2dOptions{.stride = {1, 2}, .padding = {0, 1}, .dilation = {2, 2}, .groups = 2, .bias = false});
  t["convtranspose2d_big_padding"] = layer<ConvTranspose2d>(false, 2, 2, 3, ConvTranspose2dOptions{.padding = {2, 2}});
  t["batchnorm1d_train"] = layer<BatchNorm1d>(true, 4);
  t["batchnorm1d_3d_eval"] = layer<BatchNorm1d>(false, 3);
  t["batchnorm2d_train"] = layer<BatchNorm2d>(true, 3, BatchNormOptions{.momentum = 0.3});
  t["batchnorm2d_eval"] = layer<BatchNorm2d>(false, 3);
  t["batchnorm2d_cumulative_train"] = layer<BatchNorm2d>(true, 2, BatchNormOptions{.momentum = std::nullopt});
  t["batchnorm2d_no_stats_eval"] = layer<BatchNorm2d>(false, 3, BatchNormOptions{.track_running_stats = false});
  t["batchnorm1d_no_affine_train"] = layer<BatchNorm1d>(true, 3, BatchNormOptions{.eps = 1e-3, .affine = false});
  t["layernorm_no_affine"] = layer<LayerNorm>(false, std::vector<int64_t>{6}, 1e-3, false);
  t["groupnorm_no_affine_3d"] = layer<GroupNorm>(false, 3, 3, 1e-5, false);
  t["layernorm"] = layer<LayerNorm>(false, std::vector<int64_t>{4, 5});
  t["groupnorm"] = layer<GroupNorm>(false, 2, 6);
  t["maxpool2d_k3s2p1"] = layer<MaxPool2d>(false, 3, 2, 1);
  t["avgpool2d_k2"] = layer<AvgPool2d>(false, 2);
  t["adaptive_avg_1x1"] = layer<AdaptiveAvgPool2d>(false, 1);
  t["adaptive_avg_3x3_of_6x6"] = layer<AdaptiveAvgPool2d>(false, 3);
  t["adaptive_avg_2x3_of_5x7"] = layer<AdaptiveAvgPool2d>(false, std::array<int64_t, 2>{2, 3});
  t["flatten"] = layer<Flatten>(false);
  t["embedding"] = layer<Embedding>(false, 10, 4);
  t["embedding_padding_idx"] = layer<Embedding>(false, 6, 3, std::optional<int64_t>(-2));
  t["relu"] = layer<ReLU>(false);
  t["leaky_relu"] = layer<LeakyReLU>(false, 0.2);
  t["gelu"] = layer<GELU>(false);
  t["gelu_tanh"] = layer<GELU>(false, GeluApproximation::Tanh);
  t["silu"] = layer<SiLU>(false);
  t["sigmoid"] = layer<Sigmoid>(false);
  t["tanh"] = layer<Tanh>(false);
  t["softmax_dim1"] = layer<Softmax>(false, 1);
  t["add_broadcast"] = function_case([](const auto& in) { return Add().forward(in); });
  t["concat_channels"] = function_case([](const auto& in) { return Concat(1).forward(in); });
  t["tiny_resnet_train"] = {[] { return std::static_pointer_cast<Module>(tiny_resnet()); }, true, nullptr, nullptr};
  t["tiny_resnet_eval"] = {[] { return std::static_pointer_cast<Module>(tiny_resnet()); }, false, nullptr, nullptr};

  using In = const std::vector<Tensor>&;
  t["lstm_2layer_batch_first"] = module_call<LSTM>([](LSTM& m, In in) { return m.forward(in[0]); }, 3, 4,
                                                   RnnOptions{.num_layers = 2, .batch_first = true});
  t["lstm_states"] = module_call<LSTM>(
      [](LSTM& m, In in) {
        RnnResult r = m.run(in[0], in[1], in[2]);
        return cat({r.output.slice(0, r.output.size(0) - 1, r.output.size(0)), r.h_n, r.c_n}, 0);
      },
      3, 4);
  t["gru_2layer_states"] = module_call<GRU>(
      [](GRU& m, In in) {
        RnnResult r = m.run(in[0], in[1]);
        return cat({r.output, r.h_n}, 0);
      },
      3, 4, RnnOptions{.num_layers = 2});
  t["lstm_bidirectional_2layer_states"] = module_call<LSTM>(
      [](LSTM& m, In in) {
        RnnResult r = m.run(in[0], in[1], in[2]);
        return cat({r.output.flatten(), r.h_n.flatten(), r.c_n.flatten()}, 0);
      },
      3, 4, RnnOptions{.num_layers = 2, .batch_first = true, .bidirectional = true});
  t["gru_bidirectional"] = module_call<GRU>([](GRU& m, In in) { return m.forward(in[0]); }, 3, 4,
                                            RnnOptions{.bidirectional = true});
  t["gru_batch_first_nobias"] = module_call<GRU>([](GRU& m, In in) { return m.forward(in[0]); }, 3, 4,
                                                 RnnOptions{.bias = false, .batch_first = true});
  t["mha_self_batch_first"] = module_call<MultiheadAttention>([](MultiheadAttention& m, In in) { return m.forward(in[0]); },
                                                              8, 2, AttentionOptions{.batch_first = true});
  t["mha_cross"] = module_call<MultiheadAttention>([](MultiheadAttention& m, In in) { return m.forward(in); }, 8, 4);
  t["mha_cross_weights"] = module_call<MultiheadAttention>(
      [](MultiheadAttention& m, In in) { return m.attend(in[0], in[1], in[2]).weights; }, 8, 4);
  t["mha_causal_padding"] = module_call<MultiheadAttention>(
      [](MultiheadAttention& m, In in) { return m.attend(in[0], in[0], in[0], {in[1], in[2]}).output; }, 8, 2,
      AttentionOptions{.batch_first = true});
  t["transformer_encoder_stack_causal"] = module_call<TransformerEncoder>(
      [](TransformerEncoder& m, In in) { return m.encode(in[0], {in[1], Tensor()}); }, 8, 4, 2,
      EncoderLayerOptions{.dim_feedforward = 12, .batch_first = true}, true);
  t["transformer_encoder_post"] = layer<TransformerEncoderLayer>(false, 8, 2, EncoderLayerOptions{.dim_feedforward = 16, .batch_first = true});
  t["transformer_encoder_prenorm_gelu"] = layer<TransformerEncoderLayer>(
      false, 8, 2, EncoderLayerOptions{.dim_feedforward = 16, .activation = FeedForwardActivation::GELU, .norm_first = true});

  t["nll_mean_ignore"] = function_case([](const auto& in) { return F::nll_loss(log_softmax(in[0], 1), in[1]); });
  t["nll_weight_mean"] = function_case([](const auto& in) { return F::nll_loss(log_softmax(in[0], 1), in[1], in[2]); });
  t["nll_sum_spatial"] = function_case([](const auto& in) { return F::nll_loss(log_softmax(in[0], 1), in[1], Tensor(), Reduction::Sum); });
  t["nll_none"] = function_case([](const auto& in) { return F::nll_loss(log_softmax(in[0], 1), in[1], Tensor(), Reduction::None); });
  std::map<std::string, Reduction> reductions = {{"mean", Reduction::Mean}, {"sum", Reduction::Sum}, {"none", Reduction::None}};
  for (auto [suffix, r] : reductions) {
    t["mse_" + suffix] = function_case([r](const auto& in) { return F::mse_loss(in[0], in[1], r); });
    t["l1_" + suffix] = function_case([r](const auto& in) { return F::l1_loss(in[0], in[1], r); });
    t["smooth_l1_beta05_" + suffix] = function_case([r](const auto& in) { return F::smooth_l1_loss(in[0], in[1], r, 0.5); });
    t["huber_delta07_" + suffix] = function_case([r](const auto& in) { return F::huber_loss(in[0], in[1], r, 0.7); });
    t["bce_logits_" + suffix] = function_case([r](const auto& in) { return F::binary_cross_entropy_with_logits(in[0], in[1], Tensor(), r); });
  }
  t["bce_logits_extreme"] = function_case([](const auto& in) { return F::binary_cross_entropy_with_logits(in[0], in[1], Tensor(), Reduction::Sum); });
  t["bce_logits_weights"] = function_case([](const auto& in) { return F::binary_cross_entropy_with_logits(in[0], in[1], in[2], Reduction::Mean, in[3]); });
  return t;
}

using CaseTensors = std::map<std::string, Tensor>;

const std::map<std::string, CaseTensors>& fixture_cases() {
  static std::map<std::string, CaseTensors> cases = [] {
    std::map<std::string, CaseTensors> out;
    for (auto& [name, t] : load_safetensors(parity::fixture_path("nn"))) {
      size_t dot = name.find('.');
      if (dot == std::string::npos) throw std::runtime_error("fixture tensor '" + name + "' has no '.<field>'");
      out[name.substr(0, dot)][name.substr(dot + 1)] = t;
    }
    return out;
  }();
  return cases;
}

// Fields of `fx` that start with `prefix`, with the prefix removed.
CaseTensors with_prefix(const CaseTensors& fx, const std::string& prefix) {
  CaseTensors out;
  for (const auto& [field, t] : fx)
    if (field.rfind(prefix, 0) == 0) out[field.substr(prefix.size())] = t;
  return out;
}

// Runs one case; "" when outputs, gradients and updated buffers all match PyTorch's.
std::string run_nn_case(const CaseTensors& fx, const NnCase& c) {
  std::vector<Tensor> in;
  for (size_t k = 0; fx.count("in" + std::to_string(k)); ++k) {
    Tensor t = fx.at("in" + std::to_string(k)).clone();
    if (fx.count("grad_in" + std::to_string(k))) t.requires_grad_(true);
    in.push_back(t);
  }
  ModulePtr module;
  Tensor out;
  try {
    if (c.make) {
      module = c.make();
      module->train(c.train);
      module->load_state_dict(with_prefix(fx, "state."), /*strict=*/true);
      out = c.call ? c.call(*module, in) : module->forward(in);
    } else {
      out = c.fn(in);
    }
  } catch (const std::exception& e) {
    return std::string("forward threw: ") + e.what();
  }
  std::string msg = parity::compare_tensor("out", out, fx.at("out"));
  if (!msg.empty()) return msg;
  try {
    sum(mul(out, fx.at("gout"))).backward();
  } catch (const std::exception& e) {
    return std::string("backward threw: ") + e.what();
  }
  for (size_t k = 0; k < in.size(); ++k) {
    auto expected = fx.find("grad_in" + std::to_string(k));
    if (expected == fx.end()) continue;
    Tensor got = in[k].grad().defined() ? in[k].grad() : zeros_like(in[k]);  // unused input: zero gradient
    msg = parity::compare_tensor("grad_in" + std::to_string(k), got, expected->second);
    if (!msg.empty()) return msg;
  }
  if (!module) return {};
  CaseTensors grads = with_prefix(fx, "grad."), after = with_prefix(fx, "after.");
  auto params = module->named_parameters();
  if (params.size() != grads.size()) return "module has " + std::to_string(params.size()) + " parameters, fixture has gradients for " + std::to_string(grads.size());
  for (auto& [name, p] : params) {
    if (!grads.count(name)) return "no fixture gradient for parameter '" + name + "'";
    Tensor got = p.grad().defined() ? p.grad() : zeros_like(p);  // unused parameter: zero gradient
    msg = parity::compare_tensor("grad." + name, got, grads.at(name));
    if (!msg.empty()) return msg;
  }
  for (auto& [name, b] : module->named_buffers()) {
    if (!after.count(name)) return "no fixture value for buffer '" + name + "' after forward";
    msg = parity::compare_tensor("after." + name, b, after.at(name));
    if (!msg.empty()) return msg;
  }
  return {};
}

std::shared_ptr<Sequential> mlp(Generator* gen) {
  return std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Linear>(3, 4, true, gen), std::make_shared<BatchNorm1d>(4),
                                                             std::make_shared<ReLU>(), std::make_shared<Linear>(4, 2, true, gen)});
}

std::vector<std::string> keys(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (auto& [name, t] : named) out.push_back(name);
  return out;
}

}  // namespace

class TestNn : public QObject {
  Q_OBJECT

 private slots:
  void parity_data() {
    QTest::addColumn<QString>("name");
    std::set<std::string> names;
    for (auto& [name, c] : nn_cases()) names.insert(name);
    for (auto& [name, c] : fixture_cases()) names.insert(name);
    for (const auto& name : names) QTest::newRow(name.c_str()) << QString::fromStdString(name);
  }

  void parity() {
    QFETCH(QString, name);
    std::string n = name.toStdString();
    auto table = nn_cases();
    QVERIFY2(fixture_cases().count(n), ("case '" + n + "' is not in the fixture file").c_str());
    QVERIFY2(table.count(n), ("fixture case '" + n + "' has no entry in the test's table").c_str());
    std::string msg = run_nn_case(fixture_cases().at(n), table.at(n));
    QVERIFY2(msg.empty(), msg.c_str());
  }

  void names_and_shapes_follow_pytorch() {
    Generator gen(1);
    auto model = mlp(&gen);
    QCOMPARE(keys(model->named_parameters()),
             (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"}));
    QCOMPARE(keys(model->named_buffers()),
             (std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked"}));
    QCOMPARE(model->named_parameters()[0].second.shape(), Shape({4, 3}));
    QCOMPARE(model->num_parameters(), (int64_t)(12 + 4 + 4 + 4 + 8 + 2));
    QCOMPARE(model->state_dict().size(), size_t(9));
    auto net = tiny_resnet();
    auto state = net->state_dict();
    QVERIFY(state.count("3.1.shortcut.1.running_mean"));
    QVERIFY(state.count("3.0.bn1.num_batches_tracked"));
    QVERIFY(!state.count("3.0.shortcut.0.weight"));  // identity shortcut has no parameters
    QCOMPARE(state.at("3.1.conv1.weight").shape(), Shape({6, 4, 3, 3}));
  }

  void shared_modules_are_listed_once_but_saved_under_every_name() {
    auto shared = std::make_shared<Linear>(3, 3);
    Sequential model(std::vector<ModulePtr>{shared, std::make_shared<ReLU>(), shared});
    QCOMPARE(keys(model.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias"}));
    QCOMPARE(model.num_parameters(), (int64_t)12);
    auto state = model.state_dict();
    QCOMPARE(state.size(), size_t(4));  // "0.*" and "2.*", as torch's state_dict
    QVERIFY(state.at("2.weight").storage() == shared->weight.storage());
    model.load_state_dict(state);
  }

  void named_modules_and_apply_walk_the_tree() {
    auto net = tiny_resnet();
    std::vector<std::string> names;
    for (auto& [name, m] : net->named_modules()) names.push_back(name + ":" + m->type_name());
    QCOMPARE(names.size(), size_t(7 + 2 * 6 + 2));  // 7 top layers; 2 blocks, each with 5 children; 2 layers in the projection shortcut
    QCOMPARE(QString::fromStdString(names[3]), QStringLiteral("3:Sequential"));
    QCOMPARE(QString::fromStdString(names[4]), QStringLiteral("3.0:ResBlock"));
    QCOMPARE(QString::fromStdString(names[9]), QStringLiteral("3.0.shortcut:Sequential"));
    QCOMPARE(QString::fromStdString(names.back()), QStringLiteral("6:Linear"));
    int linears = 0;
    net->apply([&](Module& m) {
      if (auto* lin = dynamic_cast<Linear*>(&m)) {
        init::zeros_(lin->weight);
        ++linears;
      }
    });
    QCOMPARE(linears, 1);
    net->eval();
    NL_EXPECT_CLOSE(net->forward(ones({1, 3, 8, 8})), std::static_pointer_cast<Linear>((*net)[6])->bias.unsqueeze(0), 0, 0);
    NL_EXPECT_CLOSE(Identity().forward(ones({2})), ones({2}), 0, 0);
  }

  void save_load_round_trip_gives_identical_outputs() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    std::string path = dir.filePath("model.safetensors").toStdString();
    Generator gen(3), gen2(4);
    auto a = mlp(&gen);
    Tensor x = randn({5, 3}, {}, &gen);
    a->forward(x);  // moves BatchNorm's running statistics away from their initial values
    a->eval();
    a->save(path);
    auto b = mlp(&gen2);
    b->eval();
    Tensor b_param = b->parameters()[0];
    b->load(path);
    QVERIFY(b->parameters()[0].same(b_param));  // loaded in place: optimisers stay attached
    NL_EXPECT_CLOSE(b->forward(x), a->forward(x), 0, 0);
    QCOMPARE(b->named_buffers()[2].second.item(), 1.0);  // num_batches_tracked
  }

  void load_errors_name_the_key() {
    Generator gen(5);
    auto model = mlp(&gen);
    auto state = model->state_dict();
    auto missing = state;
    missing.erase("3.bias");
    QVERIFY(testing::error_of([&] { model->load_state_dict(missing); }).find("missing key '3.bias'") != std::string::npos);
    model->load_state_dict(missing, /*strict=*/false);  // non-strict loads what is there
    auto unexpected = state;
    unexpected["4.weight"] = zeros({2});
    QVERIFY(testing::error_of([&] { model->load_state_dict(unexpected); }).find("unexpected key '4.weight'") != std::string::npos);
    auto wrong = state;
    wrong["0.weight"] = zeros({3, 4});
    std::string err = testing::error_of([&] { model->load_state_dict(wrong, false); });
    QVERIFY2(err.find("shape mismatch for '0.weight'") != std::string::npos && err.find("[3, 4]") != std::string::npos, err.c_str());
    // A failed load changes nothing.
    Tensor before = model->parameters()[0].clone();
    wrong["0.bias"] = ones({4});
    QVERIFY(!testing::error_of([&] { model->load_state_dict(wrong); }).empty());
    NL_EXPECT_CLOSE(model->parameters()[0], before, 0, 0);
    NL_EXPECT_CLOSE(model->parameters()[1], state.at("0.bias"), 0, 0);
  }

  void train_eval_switches_batchnorm_and_dropout() {
    auto model = std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<BatchNorm1d>(2), std::make_shared<Dropout>(0.5)});
    QVERIFY(model->is_training() && (*model)[1]->is_training());
    Generator gen(6);
    Tensor x = add(mul(randn({4000, 2}, {}, &gen), 3.0), 5.0);
    Tensor y = model->forward(x);
    auto values = y.to_vector<float>();
    size_t zeros_count = std::count(values.begin(), values.end(), 0.0f);
    QVERIFY2(zeros_count > 3600 && zeros_count < 4400, std::to_string(zeros_count).c_str());  // ~half of 8000
    auto bn = std::static_pointer_cast<BatchNorm1d>((*model)[0]);
    QVERIFY(std::fabs(bn->running_mean.to_vector<float>()[0] - 0.5) < 0.05);  // 0.9 * 0 + 0.1 * 5
    model->eval();
    QVERIFY(!model->is_training() && !(*model)[1]->is_training());
    Tensor z = model->forward(x);  // dropout off, normalised with the running statistics
    Tensor expected = div(sub(x, bn->running_mean), sqrt(add(bn->running_var, 1e-5)));
    NL_EXPECT_CLOSE(z, expected, 1e-5, 1e-5);
    QCOMPARE(bn->num_batches_tracked.item(), 1.0);  // eval does not count batches
  }

  void initialisers_have_pytorch_statistics() {
    Generator gen(7);
    Tensor w = empty({256, 128, 3, 3});
    init::kaiming_uniform_(w, 0, init::FanMode::FanIn, "relu", &gen);
    double bound = std::sqrt(2.0) * std::sqrt(3.0 / (128 * 9));
    QVERIFY(amax(abs(w)).item() <= bound && amax(abs(w)).item() > 0.99 * bound);
    QVERIFY(std::fabs(stddev(w).item() - bound / std::sqrt(3.0)) < 0.01 * bound);
    init::kaiming_normal_(w, 0, init::FanMode::FanOut, "relu", &gen);
    QVERIFY(std::fabs(stddev(w).item() - std::sqrt(2.0 / (256 * 9))) < 0.01 * std::sqrt(2.0 / (256 * 9)));
    Tensor m = empty({300, 500});
    init::xavier_uniform_(m, 1.0, &gen);
    QVERIFY(amax(abs(m)).item() <= std::sqrt(6.0 / 800));
    init::xavier_normal_(m, 2.0, &gen);
    QVERIFY(std::fabs(stddev(m).item() - 2.0 * std::sqrt(2.0 / 800)) < 0.02 * 2.0 * std::sqrt(2.0 / 800));
    QVERIFY(std::fabs(mean(m).item()) < 0.01);
    init::ones_(m);
    QCOMPARE(sum(m).item(), 150000.0);
    init::zeros_(m);
    QCOMPARE(sum(abs(m)).item(), 0.0);
    // Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias; same seed, same weights.
    Generator g1(9), g2(9);
    Linear a(400, 300, true, &g1), b(400, 300, true, &g2);
    NL_EXPECT_CLOSE(a.weight, b.weight, 0, 0);
    QVERIFY(amax(abs(a.weight)).item() <= 1.0 / 20 && amax(abs(a.weight)).item() > 0.99 / 20);
    QVERIFY(amax(abs(a.bias)).item() <= 1.0 / 20);
    QVERIFY(std::fabs(stddev(a.weight).item() - 1.0 / 20 / std::sqrt(3.0)) < 0.002);
    QVERIFY(testing::error_of([&] { Tensor v = empty({5}); init::xavier_uniform_(v); }).find("at least 2") != std::string::npos);
    // Convolutions take fan_in from the weight as laid out: in/groups * k * k for Conv2d,
    // out/groups * k * k for ConvTranspose2d (whose weight is [in, out/groups, k, k]).
    Conv2d conv(64, 8, 3, Conv2dOptions{.gen = &g1});
    ConvTranspose2d up(8, 64, 3, ConvTranspose2dOptions{.gen = &g1});
    QVERIFY(amax(abs(conv.weight)).item() <= 1.0 / 24 && amax(abs(conv.weight)).item() > 0.95 / 24);
    QVERIFY(amax(abs(up.weight)).item() <= 1.0 / 24 && amax(abs(up.weight)).item() > 0.95 / 24);
    QVERIFY(amax(abs(up.bias)).item() <= 1.0 / 24);
  }

  void gradcheck_composite() {
    Generator gen(11);
    auto conv = std::make_shared<Conv2d>(2, 3, 3, Conv2dOptions{.padding = {1, 1}, .gen = &gen});
    auto gn = std::make_shared<GroupNorm>(3, 3);
    auto fc = std::make_shared<Linear>(3, 2, true, &gen);
    Tensor x = testing::param({2, 2, 4, 4}, -1, 1, 12);
    std::vector<Tensor> inputs = {x, conv->weight, gn->weight, fc->weight};
    NL_GRADCHECK(
        [&](const std::vector<Tensor>&) {
          Tensor y = silu(gn->forward(conv->forward(x)));
          y = AdaptiveAvgPool2d(std::array<int64_t, 2>{1, 1}).forward(y).flatten(1);
          return F::huber_loss(fc->forward(y), zeros({2, 2}), Reduction::None, 0.5);
        },
        inputs, 1e-2, 2e-2, 2e-3);
  }

  void zero_grad_and_device_moves() {
    Generator gen(13);
    auto model = mlp(&gen);
    sum(model->forward(randn({4, 3}, {}, &gen))).backward();
    for (auto& p : model->parameters()) QVERIFY(p.grad().defined());
    model->zero_grad();
    for (auto& p : model->parameters()) QVERIFY(!p.grad().defined());
    Tensor first = model->parameters()[0];
    model->to(Device::cpu());  // already there: nothing moves, identity kept
    QVERIFY(model->parameters()[0].same(first));
  }

  // The pieces together: a model's parameters() feed an optimiser, which keeps training the
  // same tensors after load_state_dict copies new values into them.
  void trains_with_an_optimiser_across_a_reload() {
    Generator gen(17);
    auto model = std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Linear>(2, 16, true, &gen), std::make_shared<Tanh>(),
                                                                     std::make_shared<Linear>(16, 1, true, &gen)});
    Tensor x = uniform({64, 2}, -1, 1, {}, &gen);
    Tensor y = mul(x.select(1, 0), x.select(1, 1)).unsqueeze(1);  // a saddle: needs the hidden layer
    optim::Adam opt(model->parameters(), {.lr = 0.02});
    auto step = [&] {
      opt.zero_grad();
      Tensor loss = F::mse_loss(model->forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    };
    double first = step();
    for (int i = 0; i < 150; ++i) step();
    auto snapshot = model->state_dict();
    for (auto& [name, t] : snapshot) t = t.clone();
    model->load_state_dict(snapshot);
    for (int i = 0; i < 150; ++i) step();
    double last = step();
    QVERIFY2(last < first / 10, (std::to_string(first) + " -> " + std::to_string(last)).c_str());
  }

  void embedding_padding_row_starts_at_zero() {
    Embedding emb(5, 4, 1);
    QCOMPARE(sum(abs(emb.weight.select(0, 1))).item(), 0.0);
    QVERIFY(sum(abs(emb.weight.select(0, 0))).item() > 0);
    QVERIFY(testing::error_of([] { Embedding(5, 4, 5); }).find("padding_idx 5") != std::string::npos);
  }

  void recurrent_dropout_only_between_layers_in_training() {
    Generator gen(19);
    LSTM lstm(3, 5, RnnOptions{.num_layers = 2, .dropout = 0.5, .gen = &gen});
    Tensor x = randn({4, 2, 3}, {}, &gen);
    Tensor a = lstm.forward(x), b = lstm.forward(x);
    QVERIFY(testing::compare(a, b, 0, 0) != "");  // different masks between the layers
    lstm.eval();
    NL_EXPECT_CLOSE(lstm.forward(x), lstm.forward(x), 0, 0);
    RnnResult r = lstm.run(x);
    QCOMPARE(r.h_n.shape(), Shape({2, 2, 5}));
    NL_EXPECT_CLOSE(r.h_n.select(0, 1), r.output.select(0, 3), 0, 0);  // top layer's last step
    std::string err = testing::error_of([&] { lstm.run(x, zeros({1, 2, 5})); });
    QVERIFY2(err.find("h0 must be [2, 2, 5]") != std::string::npos, err.c_str());
    GRU gru(3, 5);
    QVERIFY(testing::error_of([&] { gru.run(x, Tensor(), zeros({1, 2, 5})); }).find("no cell state") != std::string::npos);
  }

  void multi_input_layers_check_arity() {
    Add add;
    QVERIFY(testing::error_of([&] { add.forward(ones({2})); }).find("several inputs") != std::string::npos);
    QVERIFY(testing::error_of([&] { add.forward(std::vector<Tensor>{ones({2})}); }).find("at least two") != std::string::npos);
    ReLU relu_layer;
    QVERIFY(testing::error_of([&] { relu_layer.forward(std::vector<Tensor>{ones({2}), ones({2})}); }).find("one input") != std::string::npos);
    QVERIFY(testing::error_of([&] { Linear(3, 2).forward(ones({2, 4})); }).find("[..., 3]") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestNn)
#include "test_nn.moc"
