// Optimisers, LR schedules and gradient clipping (engine/optim) against PyTorch 1.13
// reference results in tests/data/pytorch_optim.safetensors (written by
// tests/training/make_optim_fixtures.py, whose configurations the tables below repeat), plus
// bit-exact resume from saved state, clipping against hand-computed norms, and the errors
// that bad hyper-parameters and bad inputs produce.
#include <QTemporaryDir>
#include <cstring>
#include <functional>
#include <memory>

#include "engine/io/safetensors.h"
#include "engine/optim/optim.h"
#include "testing.h"

using namespace nl;
using namespace nl::optim;
using nl::testing::error_of;

namespace {

constexpr int kSteps = 10;
constexpr int kParams = 3;
constexpr int kScheduleSteps = 30;

const std::map<std::string, Tensor>& fixture() {
  static const std::map<std::string, Tensor> f =
      load_safetensors(std::string(NETLOOM_TEST_DATA_DIR) + "/pytorch_optim.safetensors");
  return f;
}

const Tensor& fixture_tensor(const std::string& name) {
  auto it = fixture().find(name);
  if (it == fixture().end()) throw Error("fixture has no tensor '" + name + "'; rerun make_optim_fixtures.py");
  return it->second;
}

// Fresh copies of the fixture's starting parameters, as leaves that require grad.
std::vector<Tensor> fresh_params() {
  std::vector<Tensor> params;
  for (int k = 0; k < kParams; ++k) {
    Tensor p = fixture_tensor("param." + std::to_string(k)).clone();
    p.requires_grad_(true);
    params.push_back(p);
  }
  return params;
}

void feed_gradients(std::vector<Tensor>& params, int step) {
  for (int k = 0; k < kParams; ++k)
    params[k].set_grad(fixture_tensor("grad." + std::to_string(step) + "." + std::to_string(k)).clone());
}

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;

// The configurations of make_optim_fixtures.py's OPTIMISERS table.
const std::map<std::string, MakeOptimizer>& optimizer_configs() {
  static const std::map<std::string, MakeOptimizer> configs = {
      {"sgd_plain", [](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.05}); }},
      {"sgd_momentum",
       [](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.01, .momentum = 0.9, .dampening = 0.1}); }},
      {"sgd_nesterov_wd",
       [](auto p) {
         return std::make_unique<SGD>(p, SGDOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
       }},
      {"adam", [](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01}); }},
      {"adam_amsgrad_wd",
       [](auto p) {
         return std::make_unique<Adam>(
             p, AdamOptions{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.1, .amsgrad = true});
       }},
      {"adamw", [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.01, .weight_decay = 0.1}); }},
      {"adamw_amsgrad_maximize",
       [](auto p) {
         return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.01, .eps = 0.1, .amsgrad = true, .maximize = true});
       }},
      {"rmsprop", [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions{.lr = 0.01}); }},
      {"rmsprop_centered_momentum_wd",
       [](auto p) {
         return std::make_unique<RMSprop>(
             p, RMSpropOptions{.lr = 0.01, .alpha = 0.9, .eps = 0.01, .weight_decay = 0.05, .momentum = 0.8, .centered = true});
       }},
  };
  return configs;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor x = a.contiguous(), y = b.contiguous();
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.raw_data(), y.raw_data(), x.numel() * x.element_size()) == 0;
}

// "" when every value is within rtol (relative) of the float64 fixture sequence.
std::string compare_sequence(const std::vector<double>& actual, const std::string& name, double rtol) {
  std::vector<double> expected = fixture_tensor(name).to_vector<double>();
  if (actual.size() > expected.size())
    return name + ": " + std::to_string(actual.size()) + " values but the fixture has " +
           std::to_string(expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!(std::fabs(actual[i] - expected[i]) <= rtol * std::fabs(expected[i]))) {
      std::ostringstream os;
      os.precision(17);
      os << name << "[" << i << "]: " << actual[i] << " vs PyTorch " << expected[i];
      return os.str();
    }
  }
  return {};
}

#define EXPECT_SEQUENCE(actual, name, rtol)                                 \
  do {                                                                      \
    std::string msg_ = compare_sequence((actual), (name), (rtol));          \
    QVERIFY2(msg_.empty(), msg_.c_str());                                   \
  } while (0)

// A one-parameter SGD for schedule tests, as make_optim_fixtures.py's sgd_for_schedule.
struct ScheduleRig {
  std::vector<Tensor> params{zeros({2}, {.requires_grad = true})};
  SGD sgd{params, {.lr = 0.1, .momentum = 0.9}};
};

// Group 0's lr after construction and after each of `steps` further steps.
std::vector<double> lr_sequence(Optimizer& opt, LRScheduler& sched, int steps, std::vector<double>* momentum = nullptr) {
  std::vector<double> lrs{opt.lr()};
  if (momentum) momentum->assign(1, opt.cycled_momentum(0));
  for (int i = 0; i < steps; ++i) {
    sched.step();
    lrs.push_back(opt.lr());
    if (momentum) momentum->push_back(opt.cycled_momentum(0));
  }
  return lrs;
}

void contains_or_fail(const std::string& message, const std::string& expected) {
  QVERIFY2(message.find(expected) != std::string::npos,
           ("expected an error containing \"" + expected + "\", got \"" + message + "\"").c_str());
}

}  // namespace

class TestOptim : public QObject {
  Q_OBJECT
 private slots:
  // ---- Optimisers against PyTorch ---------------------------------------------------------

  void optimizers_match_pytorch_data() {
    QTest::addColumn<QString>("config");
    QTest::addColumn<bool>("tensor_ops");
    for (const auto& [name, make] : optimizer_configs()) {
      QTest::newRow((name + "/fused").c_str()) << QString::fromStdString(name) << false;
      QTest::newRow((name + "/tensor_ops").c_str()) << QString::fromStdString(name) << true;
    }
  }
  void optimizers_match_pytorch() {
    QFETCH(QString, config);
    QFETCH(bool, tensor_ops);
    const std::string name = config.toStdString();
    std::vector<Tensor> params = fresh_params();
    auto opt = optimizer_configs().at(name)(params);
    if (tensor_ops) opt->set_update_kernel(UpdateKernel::TensorOps);
    for (int t = 0; t < kSteps; ++t) {
      feed_gradients(params, t);
      opt->step();
      for (int k = 0; k < kParams; ++k) {
        const Tensor& expected = fixture_tensor(name + ".step" + std::to_string(t) + ".param" + std::to_string(k));
        std::string msg = nl::testing::compare(params[k], expected, 1e-5, 0.0);
        if (!msg.empty()) msg = "step " + std::to_string(t) + ", param " + std::to_string(k) + ": " + msg;
        QVERIFY2(msg.empty(), msg.c_str());
      }
    }
  }

  void parameters_without_gradient_are_left_alone() {
    std::vector<Tensor> params = fresh_params();
    Adam adam(params, {.lr = 0.1});
    params[0].set_grad(ones(params[0].shape()));
    Tensor before = params[1].clone();
    adam.step();
    QVERIFY(adam.state_of(params[0]) && adam.state_of(params[0])->step == 1);
    QVERIFY(adam.state_of(params[1]) == nullptr);
    QVERIFY(same_bits(params[1], before));
  }

  void zero_grad_drops_or_zeroes_gradients() {
    std::vector<Tensor> params = fresh_params();
    SGD sgd(params, {.lr = 0.1});
    feed_gradients(params, 0);
    sgd.zero_grad(/*set_to_none=*/false);
    QCOMPARE(sum(abs(params[0].grad())).item(), 0.0);
    sgd.zero_grad();
    QVERIFY(!params[0].grad().defined());
  }

  void groups_have_their_own_hyper_parameters() {
    std::vector<Tensor> params = fresh_params();
    SGD sgd({params[0], params[1]}, {.lr = 0.1});
    sgd.add_param_group({params[2]}, {.lr = 0.0});
    Tensor frozen = params[2].clone();
    feed_gradients(params, 0);
    sgd.step();
    QVERIFY(same_bits(params[2], frozen));
    QVERIFY(!same_bits(params[0], fixture_tensor("param.0")));
    sgd.set_lr(0.5);
    QCOMPARE(sgd.lr(1), 0.5);
  }

  // ---- State save and restore -------------------------------------------------------------

  void resume_from_state_is_bit_identical_data() {
    QTest::addColumn<QString>("config");
    for (const auto& [name, make] : optimizer_configs()) QTest::newRow(name.c_str()) << QString::fromStdString(name);
  }
  void resume_from_state_is_bit_identical() {
    QFETCH(QString, config);
    const MakeOptimizer& make = optimizer_configs().at(config.toStdString());
    std::vector<Tensor> straight = fresh_params();
    auto uninterrupted = make(straight);
    for (int t = 0; t < kSteps; ++t) {
      feed_gradients(straight, t);
      uninterrupted->step();
    }

    std::vector<Tensor> first = fresh_params();
    auto before = make(first);
    for (int t = 0; t < kSteps / 2; ++t) {
      feed_gradients(first, t);
      before->step();
    }
    // Through a safetensors file, as a checkpoint would hold it.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("optimizer.safetensors").toStdString();
    save_safetensors(path, before->state_dict().to_tensors("optimizer."));
    StateDict restored = StateDict::from_tensors(load_safetensors(path), "optimizer.");

    std::vector<Tensor> resumed;
    for (const Tensor& p : first) resumed.push_back(p.detach().clone().requires_grad_(true));
    auto after = make(resumed);
    after->load_state_dict(restored);
    for (int t = kSteps / 2; t < kSteps; ++t) {
      feed_gradients(resumed, t);
      after->step();
    }
    for (int k = 0; k < kParams; ++k) QVERIFY2(same_bits(resumed[k], straight[k]), ("param " + std::to_string(k)).c_str());
  }

  void state_dict_restores_hyper_parameters_and_names_entries() {
    std::vector<Tensor> params = fresh_params();
    Adam adam(params, {.lr = 0.01, .amsgrad = true});
    feed_gradients(params, 0);
    adam.step();
    StateDict s = adam.state_dict();
    QCOMPARE(s.scalars.at("state.2.step"), 1.0);
    QVERIFY(s.tensors.count("state.1.exp_avg") && s.tensors.count("state.1.max_exp_avg_sq"));
    QCOMPARE(s.scalars.at("param_groups.0.amsgrad"), 1.0);

    Adam other(fresh_params(), {.lr = 0.5});
    other.load_state_dict(s);
    QCOMPARE(other.lr(), 0.01);
    QVERIFY(other.param_groups()[0].amsgrad);
  }

  void schedule_resume_is_identical() {
    // Uninterrupted OneCycleLR over SGD (lr and momentum cycle) and ReduceLROnPlateau.
    ScheduleRig a;
    OneCycleLR straight(a.sgd, {.max_lr = {0.5}, .total_steps = 30});
    std::vector<double> momentum_straight;
    std::vector<double> lr_straight = lr_sequence(a.sgd, straight, 30, &momentum_straight);

    ScheduleRig b;
    OneCycleLR first(b.sgd, {.max_lr = {0.5}, .total_steps = 30});
    for (int i = 0; i < 12; ++i) first.step();
    StateDict opt_state = b.sgd.state_dict(), sched_state = first.state_dict();

    ScheduleRig c;
    OneCycleLR second(c.sgd, {.max_lr = {0.5}, .total_steps = 30});  // sets step 0's values…
    c.sgd.load_state_dict(opt_state);                                  // …which the saved state replaces
    second.load_state_dict(sched_state);
    QCOMPARE(second.last_step(), (int64_t)12);
    for (int i = 12; i < 30; ++i) {
      QCOMPARE(c.sgd.lr(), lr_straight[i]);
      QCOMPARE(c.sgd.cycled_momentum(0), momentum_straight[i]);
      second.step();
    }
    QCOMPARE(c.sgd.lr(), lr_straight[30]);

    ScheduleRig d, e;
    ReduceLROnPlateau plateau_d(d.sgd, {.factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1});
    ReduceLROnPlateau plateau_e(e.sgd, {.factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1});
    std::vector<double> metric = fixture_tensor("metric.plateau_min").to_vector<double>();
    for (int i = 0; i < 15; ++i) plateau_d.step(metric[i]);
    e.sgd.load_state_dict(d.sgd.state_dict());
    plateau_e.load_state_dict(plateau_d.state_dict());
    for (int i = 15; i < kScheduleSteps; ++i) {
      plateau_d.step(metric[i]);
      plateau_e.step(metric[i]);
      QCOMPARE(e.sgd.lr(), d.sgd.lr());
      QCOMPARE(plateau_e.num_bad_steps(), plateau_d.num_bad_steps());
    }
  }

  // ---- LR schedules against PyTorch -------------------------------------------------------

  void step_multistep_exponential_match_pytorch() {
    ScheduleRig a, b, c;
    StepLR step(a.sgd, {.step_size = 7, .gamma = 0.5});
    EXPECT_SEQUENCE(lr_sequence(a.sgd, step, kScheduleSteps), "lr.steplr", 1e-9);
    MultiStepLR multi(b.sgd, {.milestones = {20, 12, 5, 12}, .gamma = 0.3});  // unsorted, 12 twice
    EXPECT_SEQUENCE(lr_sequence(b.sgd, multi, kScheduleSteps), "lr.multisteplr", 1e-9);
    ExponentialLR exponential(c.sgd, {.gamma = 0.9});
    EXPECT_SEQUENCE(lr_sequence(c.sgd, exponential, kScheduleSteps), "lr.exponentiallr", 1e-9);
  }

  void cosine_with_and_without_warmup_match_pytorch() {
    ScheduleRig a, b;
    CosineAnnealingLR plain(a.sgd, {.total_steps = 30, .eta_min = 0.001});
    EXPECT_SEQUENCE(lr_sequence(a.sgd, plain, kScheduleSteps), "lr.cosine", 1e-9);
    CosineAnnealingLR warm(b.sgd, {.total_steps = 30, .warmup_steps = 5, .warmup_start_factor = 0.25, .eta_min = 0.001});
    EXPECT_SEQUENCE(lr_sequence(b.sgd, warm, kScheduleSteps), "lr.cosine_warmup", 1e-9);
    // Past total_steps the lr stays at eta_min (PyTorch's would rise again).
    b.sgd.set_lr(1.0);
    warm.step();
    QCOMPARE(b.sgd.lr(), 0.001);
    // Warm-up from zero, which PyTorch's LinearLR cannot express: 0, 1/4, 2/4, 3/4 of base.
    ScheduleRig c;
    CosineAnnealingLR from_zero(c.sgd, {.total_steps = 10, .warmup_steps = 4});
    std::vector<double> lrs = lr_sequence(c.sgd, from_zero, 4);
    QCOMPARE(lrs[0], 0.0);
    QCOMPARE(lrs[2], 0.05);
    QCOMPARE(lrs[4], 0.1);
  }

  void one_cycle_matches_pytorch() {
    ScheduleRig a;
    OneCycleLR sgd_cycle(a.sgd, {.max_lr = {0.5}, .total_steps = 30, .pct_start = 0.3});
    std::vector<double> momentum;
    std::vector<double> lrs = lr_sequence(a.sgd, sgd_cycle, kScheduleSteps, &momentum);
    // Steps 0..29 as PyTorch; step 30 (after the last optimiser step) holds the final values.
    EXPECT_SEQUENCE(std::vector<double>(lrs.begin(), lrs.end() - 1), "lr.onecycle", 1e-9);
    EXPECT_SEQUENCE(std::vector<double>(momentum.begin(), momentum.end() - 1), "momentum.onecycle", 1e-9);
    QCOMPARE(lrs.back(), lrs[29]);
    QCOMPARE(momentum.back(), 0.95);
    contains_or_fail(error_of([&] { sgd_cycle.step(); }), "OneCycleLR: tried to step 32 times but total_steps is 30");
    QCOMPARE(a.sgd.lr(), lrs.back());  // the refused step changed nothing

    std::vector<Tensor> p{zeros({2}, {.requires_grad = true})};
    Adam adam(p, {.lr = 0.01});
    OneCycleLR three(adam, {.max_lr = {0.02},
                            .total_steps = 30,
                            .pct_start = 0.25,
                            .anneal_strategy = AnnealStrategy::Linear,
                            .base_momentum = 0.8,
                            .max_momentum = 0.9,
                            .div_factor = 10,
                            .final_div_factor = 100,
                            .three_phase = true});
    std::vector<double> beta1;
    lrs = lr_sequence(adam, three, kScheduleSteps, &beta1);
    EXPECT_SEQUENCE(std::vector<double>(lrs.begin(), lrs.end() - 1), "lr.onecycle_adam_three_phase_linear", 1e-9);
    EXPECT_SEQUENCE(beta1, "momentum.onecycle_adam_three_phase_linear", 1e-9);
    QCOMPARE(adam.param_groups()[0].beta1, beta1.back());
    QVERIFY(lrs.back() > 0);  // PyTorch's extrapolation would have made it negative
  }

  void reduce_on_plateau_matches_pytorch() {
    ScheduleRig a, b;
    ReduceLROnPlateau low(a.sgd, {.mode = PlateauMode::Min,
                                  .factor = 0.5,
                                  .patience = 2,
                                  .threshold = 0.01,
                                  .cooldown = 1,
                                  .min_lr = 0.004});
    ReduceLROnPlateau high(b.sgd, {.mode = PlateauMode::Max,
                                   .factor = 0.3,
                                   .patience = 1,
                                   .threshold = 0.005,
                                   .threshold_mode = ThresholdMode::Abs});
    std::vector<double> metric_min = fixture_tensor("metric.plateau_min").to_vector<double>();
    std::vector<double> metric_max = fixture_tensor("metric.plateau_max_abs").to_vector<double>();
    std::vector<double> lr_low{a.sgd.lr()}, lr_high{b.sgd.lr()};
    for (int i = 0; i < kScheduleSteps; ++i) {
      low.step(metric_min[i]);
      high.step(metric_max[i]);
      lr_low.push_back(a.sgd.lr());
      lr_high.push_back(b.sgd.lr());
    }
    EXPECT_SEQUENCE(lr_low, "lr.plateau_min", 1e-9);
    EXPECT_SEQUENCE(lr_high, "lr.plateau_max_abs", 1e-9);
  }

  // ---- Gradient clipping ------------------------------------------------------------------

  void clip_grad_norm_against_hand_computed_norms() {
    Tensor a = zeros({2}, {.requires_grad = true}), b = zeros({1, 1}, {.requires_grad = true});
    Tensor no_grad = zeros({3}, {.requires_grad = true});
    auto reset = [&] {
      a.set_grad(tensor({3, -4}, {2}));
      b.set_grad(tensor({12}, {1, 1}));
    };
    reset();
    // L2: sqrt(9 + 16 + 144) = 13 → scaled by 6.5 / (13 + 1e-6).
    QCOMPARE(clip_grad_norm_({a, b, no_grad}, 6.5), 13.0);
    const double coef = 6.5 / (13 + 1e-6);
    NL_EXPECT_CLOSE(a.grad(), tensor({(float)(3 * coef), (float)(-4 * coef)}, {2}), 1e-7, 0);
    NL_EXPECT_CLOSE(b.grad(), tensor({(float)(12 * coef)}, {1, 1}), 1e-7, 0);
    QVERIFY(!no_grad.grad().defined());
    // Below max_norm nothing changes, bit for bit.
    reset();
    QCOMPARE(clip_grad_norm_({a, b}, 13.5), 13.0);
    QVERIFY(same_bits(a.grad(), tensor({3, -4}, {2})));
    // Infinity norm: the largest |g|; 1-norm: the sum of |g|; 3-norm: (27 + 64 + 1728)^(1/3).
    reset();
    QCOMPARE(clip_grad_norm_({a, b}, 6.0, kInfNorm), 12.0);
    NL_EXPECT_CLOSE(b.grad(), tensor({(float)(12 * 6.0 / (12 + 1e-6))}, {1, 1}), 1e-7, 0);
    reset();
    QCOMPARE(clip_grad_norm_({a, b}, 100, 1.0), 19.0);
    reset();
    QVERIFY(std::fabs(clip_grad_norm_({a, b}, 100, 3.0) - std::cbrt(1819.0)) < 1e-12);
    QCOMPARE(clip_grad_norm_({no_grad}, 1.0), 0.0);
  }

  void clip_grad_norm_large_and_strided_gradients() {
    // 100003 elements of 0.5 crosses the parallel and chunked paths: norm 0.5 · sqrt(100003).
    Tensor big = zeros({100003}, {.requires_grad = true});
    big.set_grad(full({100003}, 0.5));
    // A transposed gradient takes the tensor-op path.
    Tensor strided = zeros({3, 2}, {.requires_grad = true});
    strided.set_grad(tensor({1, 2, 3, 4, 5, 6}, {2, 3}).t());
    const double expected = std::sqrt(0.25 * 100003 + 91);
    QVERIFY(std::fabs(clip_grad_norm_({big, strided}, 1.0) - expected) < 1e-9 * expected);
    QVERIFY(std::fabs(sum(square(big.grad())).item() + sum(square(strided.grad())).item() - 1.0) < 1e-5);
  }

  void clip_grad_norm_non_finite() {
    Tensor a = zeros({2}, {.requires_grad = true});
    a.set_grad(tensor({1, std::numeric_limits<float>::quiet_NaN()}, {2}));
    contains_or_fail(error_of([&] { clip_grad_norm_({a}, 1.0, 2.0, /*error_if_nonfinite=*/true); }),
                     "clip_grad_norm_: the total 2-norm of the gradients is nan");
    QVERIFY(std::isnan(clip_grad_norm_({a}, 1.0)));  // as PyTorch: the gradients become NaN
    QVERIFY(std::isnan(a.grad().to_vector<double>()[0]));
  }

  void clip_grad_value_clamps() {
    Tensor a = zeros({4}, {.requires_grad = true}), b = zeros({2, 2}, {.requires_grad = true});
    a.set_grad(tensor({-3, -0.5, 0.25, 2}, {4}));
    b.set_grad(tensor({5, -5, 0, 1}, {2, 2}).t());  // strided: the tensor-op path
    clip_grad_value_({a, b}, 1.0);
    QVERIFY(same_bits(a.grad(), tensor({-1, -0.5, 0.25, 1}, {4})));
    QVERIFY(same_bits(b.grad(), tensor({1, 0, -1, 1}, {2, 2})));
  }

  // ---- Errors -----------------------------------------------------------------------------

  void bad_hyper_parameters_name_optimizer_and_field() {
    auto p = [] { return std::vector<Tensor>{zeros({2}, {.requires_grad = true})}; };
    contains_or_fail(error_of([&] { SGD(p(), {.lr = -0.1}); }),
                     "SGD: lr must be a finite number >= 0, got -0.1 (param group 0)");
    contains_or_fail(error_of([&] { SGD(p(), {.momentum = -1}); }), "SGD: momentum must be a finite number >= 0");
    contains_or_fail(error_of([&] { SGD(p(), {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }),
                     "SGD: nesterov momentum needs momentum > 0 and dampening = 0, got momentum 0.9 and dampening 0.1");
    contains_or_fail(error_of([&] { SGD(p(), {.nesterov = true}); }), "SGD: nesterov momentum needs momentum > 0");
    contains_or_fail(error_of([&] { Adam(p(), {.beta1 = 1.0}); }), "Adam: beta1 must be in [0, 1), got 1");
    contains_or_fail(error_of([&] { Adam(p(), {.eps = -1e-8}); }), "Adam: eps must be a finite number >= 0");
    contains_or_fail(error_of([&] { AdamW(p(), {.beta2 = -0.5}); }), "AdamW: beta2 must be in [0, 1), got -0.5");
    contains_or_fail(error_of([&] { AdamW(p(), {.weight_decay = -0.01}); }), "AdamW: weight_decay must be");
    contains_or_fail(error_of([&] { RMSprop(p(), {.alpha = 1.5}); }), "RMSprop: alpha must be in [0, 1), got 1.5");
    contains_or_fail(error_of([&] { RMSprop(p(), {.lr = std::nan("")}); }), "RMSprop: lr must be a finite number");

    SGD sgd(p(), {.lr = 0.1});
    sgd.add_param_group(p(), {.lr = 0.2});
    contains_or_fail(error_of([&] { sgd.set_lr(1, -2); }), "SGD: lr must be a finite number >= 0, got -2 (param group 1)");
    QCOMPARE(sgd.lr(1), 0.2);
    sgd.param_groups()[1].momentum = -0.5;  // edited directly: caught before the next step
    contains_or_fail(error_of([&] { sgd.step(); }), "SGD: momentum must be a finite number >= 0, got -0.5 (param group 1)");
    contains_or_fail(error_of([&] { sgd.lr(2); }), "SGD: param group 2 does not exist (2 groups)");
  }

  void bad_parameters_and_gradients() {
    Tensor leaf = ones({2, 3}, {.requires_grad = true});
    contains_or_fail(error_of([&] { SGD({mul(leaf, 2.0)}); }), "SGD: parameter 0 (group 0) is not a leaf tensor");
    contains_or_fail(error_of([&] { SGD({leaf, leaf}); }), "SGD: parameter 1 (group 0) appears more than once");
    Tensor plain = ones({2, 3});
    contains_or_fail(error_of([&] { Adam({plain.t()}); }), "Adam: parameter 0 (group 0) is not contiguous");
    contains_or_fail(error_of([&] { Adam({zeros({2}, {.dtype = DType::Float64})}); }), "is float64");
    contains_or_fail(error_of([&] { SGD(std::vector<Tensor>{}); }), "SGD: param group 0 has no parameters");

    // A bad gradient anywhere stops the whole step before any parameter moves.
    Tensor first = ones({2}, {.requires_grad = true}), second = ones({2}, {.requires_grad = true});
    SGD sgd({first, second}, {.lr = 0.1});
    first.set_grad(ones({2}));
    second.set_grad(ones({3}));
    contains_or_fail(error_of([&] { sgd.step(); }), "SGD: gradient of parameter 1 has shape [3] but the parameter has [2]");
    QVERIFY(same_bits(first, ones({2})));
    second.set_grad(second.detach());
    contains_or_fail(error_of([&] { sgd.step(); }), "SGD: gradient of parameter 1 shares memory with the parameter");
  }

  void bad_state_dicts_change_nothing() {
    std::vector<Tensor> params = fresh_params();
    Adam adam(params, {.lr = 0.01});
    feed_gradients(params, 0);
    adam.step();
    StateDict adam_state = adam.state_dict();

    std::vector<Tensor> other = fresh_params();
    SGD sgd(other, {.lr = 0.3, .momentum = 0.9});
    contains_or_fail(error_of([&] { sgd.load_state_dict(adam_state); }), "SGD: state_dict has no scalar 'param_groups.0.momentum'");
    StateDict sgd_state = sgd.state_dict();
    sgd_state.scalars["state.0.step"] = 1;
    sgd_state.tensors["state.0.exp_avg"] = zeros(other[0].shape());
    contains_or_fail(error_of([&] { sgd.load_state_dict(sgd_state); }),
                     "SGD: state_dict entry 'state.0.exp_avg' is not state that SGD keeps");
    sgd_state.tensors.erase("state.0.exp_avg");
    sgd_state.tensors["state.0.momentum_buffer"] = zeros({7});
    contains_or_fail(error_of([&] { sgd.load_state_dict(sgd_state); }), "has shape [7] but parameter 0 has [3, 4]");
    QCOMPARE(sgd.lr(), 0.3);
    QVERIFY(sgd.state_of(other[0]) == nullptr);

    StateDict partial = adam_state;
    partial.tensors.erase("state.1.exp_avg_sq");
    contains_or_fail(error_of([&] { Adam(fresh_params()).load_state_dict(partial); }),
                     "Adam: state_dict has 'state.1.step' but no 'state.1.exp_avg_sq'");
    Adam two_params({fresh_params()[0], fresh_params()[1]});
    contains_or_fail(error_of([&] { two_params.load_state_dict(adam_state); }),
                     "Adam: state_dict has 3 parameters in param group 0 but the optimiser has 2");
  }

  void bad_schedule_options() {
    ScheduleRig r;
    contains_or_fail(error_of([&] { StepLR(r.sgd, {.step_size = 0}); }), "StepLR: step_size must be >= 1, got 0");
    contains_or_fail(error_of([&] { CosineAnnealingLR(r.sgd, {.total_steps = 5, .warmup_steps = 5}); }),
                     "CosineAnnealingLR: total_steps (5) must be greater than warmup_steps (5)");
    contains_or_fail(error_of([&] { OneCycleLR(r.sgd, {.max_lr = {0.1, 0.2}, .total_steps = 10}); }),
                     "OneCycleLR: max_lr needs 1 value or one per param group (1), got 2");
    contains_or_fail(error_of([&] { OneCycleLR(r.sgd, {.max_lr = {0.1}, .total_steps = 10, .pct_start = 0.1}); }),
                     "gives a phase of zero length");
    contains_or_fail(error_of([&] { ReduceLROnPlateau(r.sgd, {.factor = 1.0}); }),
                     "ReduceLROnPlateau: factor must be in [0, 1), got 1");
    contains_or_fail(error_of([&] { clip_grad_norm_(r.params, 1.0, 0.0); }),
                     "clip_grad_norm_: norm_type must be > 0 or infinity, got 0");
    contains_or_fail(error_of([&] { clip_grad_value_(r.params, -1); }), "clip_grad_value_: clip_value must be >= 0");
    StepLR step(r.sgd, {.step_size = 2});
    r.sgd.add_param_group({zeros({1}, {.requires_grad = true})}, {.lr = 0.1});
    contains_or_fail(error_of([&] { step.step(); }), "StepLR: the optimiser has 2 param groups but the scheduler was made for 1");
  }
};

QTEST_APPLESS_MAIN(TestOptim)
#include "test_optim.moc"
