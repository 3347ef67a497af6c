// Elementwise ops: forward against scalar references and backward against finite
// differences, on broadcast shapes and non-contiguous views; comparisons, where, in-place.
#include <functional>

#include "testing.h"

using namespace nl;
using nl::testing::error_of;
using nl::testing::param;

namespace {

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;  // input domain (kept away from kinks and poles)
};

double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, -2, 2},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, -2, 2},
      {"log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, 0.5, 3},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }, 0.5, 3},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](double x) { return 1 / std::sqrt(x); }, 0.5, 3},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }, 0.2, 2},
      {"abs_neg", [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }, -2, -0.2},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0; }, 0.1, 2},
      {"relu_neg", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0; }, -2, -0.1},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, [](double x) { return x > 0 ? x : 0.2 * x; },
       -2, -0.1},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double x) { return 1 / (1 + std::exp(-x)); }, -3, 3},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, -2, 2},
      {"gelu", [](const Tensor& x) { return gelu(x); }, gelu_ref, -3, 3},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::Tanh); }, gelu_tanh_ref, -3, 3},
      {"silu", [](const Tensor& x) { return silu(x); }, [](double x) { return x / (1 + std::exp(-x)); }, -3, 3},
      {"softplus", [](const Tensor& x) { return softplus(x); }, [](double x) { return std::log1p(std::exp(x)); }, -3, 3},
      {"erf", [](const Tensor& x) { return erf(x); }, [](double x) { return std::erf(x); }, -2, 2},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double x) { return 1 / x; }, 0.5, 2},
      {"square", [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }, -2, 2},
      {"sin", [](const Tensor& x) { return sin(x); }, [](double x) { return std::sin(x); }, -3, 3},
      {"cos", [](const Tensor& x) { return cos(x); }, [](double x) { return std::cos(x); }, -3, 3},
      {"pow_2.5", [](const Tensor& x) { return pow(x, 2.5); }, [](double x) { return std::pow(x, 2.5); }, 0.5, 2},
      {"pow_-1.5", [](const Tensor& x) { return pow(x, -1.5); }, [](double x) { return std::pow(x, -1.5); }, 0.5, 2},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.5); },
       [](double x) { return std::min(std::max(x, -0.5), 0.5); }, -0.45, 0.45},
      {"clamp_out", [](const Tensor& x) { return clamp(x, -0.5, 0.5); },
       [](double x) { return std::min(std::max(x, -0.5), 0.5); }, 0.6, 2},
      {"add_scalar", [](const Tensor& x) { return add(x, 1.5); }, [](double x) { return x + 1.5; }, -2, 2},
      {"sub_scalar", [](const Tensor& x) { return sub(x, 1.5); }, [](double x) { return x - 1.5; }, -2, 2},
      {"mul_scalar", [](const Tensor& x) { return mul(x, -3.0); }, [](double x) { return -3 * x; }, -2, 2},
      {"div_scalar", [](const Tensor& x) { return div(x, 4.0); }, [](double x) { return x / 4; }, -2, 2},
      {"rsub_scalar", [](const Tensor& x) { return 1.0 - x; }, [](double x) { return 1 - x; }, -2, 2},
  };
}

}  // namespace

class TestElementwise : public QObject {
  Q_OBJECT
 private slots:
  void unary_forward_matches_reference() {
    for (const auto& c : unary_cases()) {
      Tensor x = param({3, 5}, c.lo, c.hi, 11).detach();
      Tensor y = c.op(x);
      auto xv = x.to_vector<double>();
      std::vector<float> expect;
      for (double v : xv) expect.push_back((float)c.ref(v));
      std::string msg = nl::testing::compare(y, tensor(expect, x.shape()), 1e-5, 1e-6);
      QVERIFY2(msg.empty(), (std::string(c.name) + ": " + msg).c_str());
    }
  }

  void unary_backward_matches_finite_differences() {
    for (const auto& c : unary_cases()) {
      // A transposed view exercises the strided kernels.
      Tensor x = param({4, 3}, c.lo, c.hi, 5);
      auto op = c.op;
      std::string msg = nl::testing::gradcheck([op](const std::vector<Tensor>& in) { return op(in[0].t()); }, {x},
                                               1e-3, 1e-2, 1e-3);
      QVERIFY2(msg.empty(), (std::string(c.name) + ": " + msg).c_str());
    }
  }

  void discontinuous_ops_have_zero_gradient() {
    Tensor x = param({6}, -3, 3);
    for (auto op : {sign, floor, ceil, round}) {
      x.zero_grad();
      sum(op(x)).backward();
      for (float g : x.grad().to_vector<float>()) QCOMPARE(g, 0.0f);
    }
    QCOMPARE(sign(tensor({-2, 0, 3}, {3})).to_vector<float>(), (std::vector<float>{-1, 0, 1}));
    QCOMPARE(round(tensor({0.5f, 1.5f, -1.2f}, {3})).to_vector<float>(), (std::vector<float>{0, 2, -1}));
  }

  void binary_forward_with_broadcasting() {
    Tensor a = param({2, 3, 1}, -2, 2, 1).detach(), b = param({4}, 0.5, 2, 2).detach();
    auto av = a.to_vector<float>(), bv = b.to_vector<float>();
    struct Case {
      const char* name;
      std::function<Tensor(const Tensor&, const Tensor&)> op;
      std::function<float(float, float)> ref;
    };
    std::vector<Case> cases = {
        {"add", [](auto& x, auto& y) { return add(x, y); }, [](float x, float y) { return x + y; }},
        {"sub", [](auto& x, auto& y) { return sub(x, y); }, [](float x, float y) { return x - y; }},
        {"mul", [](auto& x, auto& y) { return mul(x, y); }, [](float x, float y) { return x * y; }},
        {"div", [](auto& x, auto& y) { return div(x, y); }, [](float x, float y) { return x / y; }},
        {"maximum", [](auto& x, auto& y) { return maximum(x, y); }, [](float x, float y) { return std::max(x, y); }},
        {"minimum", [](auto& x, auto& y) { return minimum(x, y); }, [](float x, float y) { return std::min(x, y); }},
        {"pow", [](auto& x, auto& y) { return pow(abs(x), y); }, [](float x, float y) { return std::pow(std::fabs(x), y); }},
    };
    for (const auto& c : cases) {
      Tensor y = c.op(a, b);
      QCOMPARE(y.shape(), (Shape{2, 3, 4}));
      std::vector<float> expect;
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 4; ++j) expect.push_back(c.ref(av[i], bv[j]));
      std::string msg = nl::testing::compare(y, tensor(expect, {2, 3, 4}), 1e-6, 1e-6);
      QVERIFY2(msg.empty(), (std::string(c.name) + ": " + msg).c_str());
    }
  }

  void binary_backward_with_broadcasting_and_views() {
    using In = const std::vector<Tensor>&;
    Tensor a = param({3, 1, 4}, -2, 2, 1), b = param({5, 4}, 0.5, 2, 2);
    NL_GRADCHECK([](In t) { return add(t[0], t[1]); }, {a, b});
    NL_GRADCHECK([](In t) { return sub(t[0], t[1]); }, {a, b});
    NL_GRADCHECK([](In t) { return mul(t[0], t[1]); }, {a, b});
    NL_GRADCHECK([](In t) { return div(t[0], t[1]); }, {a, b}, 1e-3);
    NL_GRADCHECK([](In t) { return pow(t[1], t[0]); }, {a, b}, 1e-3);
    Tensor c = param({4, 5}, -2, 2, 3);  // transposed view against b
    NL_GRADCHECK([](In t) { return maximum(t[0].t(), t[1]); }, {c, b});
    NL_GRADCHECK([](In t) { return minimum(t[0].t(), t[1]); }, {c, b});
    NL_GRADCHECK([](In t) { return mul(t[0].t().slice(0, 0, 5, 2), t[1].narrow(0, 1, 3)); }, {c, b});
  }

  void maximum_splits_gradient_on_ties() {
    Tensor a = tensor({1, 2, 3}, {3}, true), b = tensor({1, 5, 0}, {3}, true);
    sum(maximum(a, b)).backward();
    QCOMPARE(a.grad().to_vector<float>(), (std::vector<float>{0.5f, 0, 1}));
    QCOMPARE(b.grad().to_vector<float>(), (std::vector<float>{0.5f, 1, 0}));
  }

  void comparisons_and_logic() {
    Tensor a = tensor({1, 2, 3}, {3}), b = tensor({3, 2, 1}, {3});
    QCOMPARE(eq(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
    QCOMPARE(ne(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
    QCOMPARE(lt(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
    QCOMPARE(le(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0}));
    QCOMPARE(gt(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 1}));
    QCOMPARE(ge(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1}));
    QCOMPARE(gt(a, 1.5).dtype(), DType::Bool);
    QCOMPARE(logical_and(gt(a, 1.5), lt(a, 2.5)).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
    QCOMPARE(logical_or(lt(a, 1.5), gt(a, 2.5)).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
    QCOMPARE(logical_not(gt(a, 1.5)).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
    QCOMPARE(isnan(tensor({NAN, 1}, {2})).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0}));
    Tensor i = tensor(std::vector<int64_t>{1, 5}, {2});
    QCOMPARE(eq(i, 5.0).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1}));
  }

  void where_forward_and_backward() {
    Tensor cond = gt(tensor({1, -1, 2, -2}, {2, 2}), 0.0);
    Tensor a = param({2, 2}, -1, 1, 1), b = param({2}, -1, 1, 2);
    Tensor y = where(cond, a, b);
    auto av = a.to_vector<float>(), bv = b.to_vector<float>(), yv = y.to_vector<float>();
    QCOMPARE(yv[0], av[0]);
    QCOMPARE(yv[1], bv[1]);
    QCOMPARE(yv[2], av[2]);
    QCOMPARE(yv[3], bv[1]);
    NL_GRADCHECK([cond](const std::vector<Tensor>& t) { return where(cond, t[0], t[1]); }, {a, b});
    QVERIFY(error_of([&] { where(cond, a, ones({3})); }).find("broadcast") != std::string::npos);
  }

  void nan_propagates() {
    Tensor n = tensor({NAN, 1}, {2}), z = zeros({2});
    QVERIFY(std::isnan(maximum(n, z).to_vector<float>()[0]));
    QVERIFY(std::isnan(relu(n).to_vector<float>()[0]) || relu(n).to_vector<float>()[0] == 0.0f);
    QVERIFY(std::isnan(clamp(n, 0, 1).to_vector<float>()[0]));
  }

  void integer_ops() {
    Tensor i = tensor(std::vector<int64_t>{-3, 4}, {2});
    QCOMPARE(neg(i).to_vector<int64_t>(), (std::vector<int64_t>{3, -4}));
    QCOMPARE(abs(i).to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
    QCOMPARE(mul(i, i).to_vector<int64_t>(), (std::vector<int64_t>{9, 16}));
    QCOMPARE(exp(tensor(std::vector<int64_t>{0}, {1})).dtype(), DType::Float32);  // promoted
  }

  void large_tensors_run_in_parallel_correctly() {
    // Above the parallel threshold, with a broadcast operand and a transposed one.
    Tensor a = param({300, 400}, -1, 1, 1).detach(), b = param({400}, -1, 1, 2).detach();
    Tensor y = add(a, b), yt = add(a.t().contiguous().t(), b);
    NL_EXPECT_CLOSE(y, yt, 0, 0);
    auto av = a.to_vector<float>(), bv = b.to_vector<float>(), yv = y.to_vector<float>();
    for (size_t k : {size_t(0), size_t(12345), size_t(119999)}) QCOMPARE(yv[k], av[k] + bv[k % 400]);
    Tensor big = full({100000}, 2.0);
    // Sums accumulate in blocks of float lanes combined in double: near-exact.
    QVERIFY(std::fabs(sum(exp(big)).item() / (100000 * (double)std::exp(2.0f)) - 1) < 1e-6);
  }

  void in_place_updates() {
    Tensor w = ones({2, 3});
    add_(w, tensor({1, 2, 3}, {3}), 2.0);
    QCOMPARE(w.to_vector<float>(), (std::vector<float>{3, 5, 7, 3, 5, 7}));
    mul_(w, 0.5);
    QCOMPARE(w.to_vector<float>()[0], 1.5f);
    mul_(w, full({2, 1}, 2.0));
    QCOMPARE(w.to_vector<float>()[0], 3.0f);
    Tensor col = w.select(1, 0);  // non-contiguous target
    add_(col, ones({2}));
    QCOMPARE(w.to_vector<float>()[3], 4.0f);
    copy_(w, zeros({3}));
    QCOMPARE(sum(w).item(), 0.0);
    QVERIFY(error_of([&] { add_(w, ones({4})); }).find("broadcast") != std::string::npos);
    QVERIFY(error_of([&] { add_(col, ones({2, 2})); }).find("in place") != std::string::npos);
  }

  void bad_arguments() {
    QVERIFY(error_of([] { add(ones({2}), Tensor()); }).find("undefined") != std::string::npos);
    QVERIFY(error_of([] { clamp(ones({2}), 1, 0); }).find("exceeds") != std::string::npos);
    QVERIFY(error_of([] { mul(ones({2, 3}), ones({3, 2})); }).find("mul") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestElementwise)
#include "test_elementwise.moc"
