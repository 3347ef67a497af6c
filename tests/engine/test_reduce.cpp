// Reductions over any dims with keepdim: forward against a double-precision reference
// over every layout path (rows, columns, strided), gradients by finite differences.
#include "testing.h"

using namespace nl;
using nl::testing::error_of;
using nl::testing::param;

namespace {

// Reference: reduce x (given as a row-major vector of shape) over `dims` with `f` over
// the collected values, keepdim layout.
template <class F>
std::vector<double> reference(const Tensor& x, const std::vector<int>& dims, F f) {
  Shape s = x.shape();
  std::vector<bool> red(s.size(), false);
  for (int d : dims) red[d] = true;
  Shape keep;
  for (int i = 0; i < s.size(); ++i) keep.push_back(red[i] ? 1 : s[i]);
  std::vector<std::vector<double>> groups(keep.numel());
  auto v = x.to_vector<double>();
  Shape st = contiguous_strides(s), kst = contiguous_strides(keep);
  for (int64_t i = 0; i < (int64_t)v.size(); ++i) {
    int64_t rem = i, o = 0;
    for (int d = 0; d < s.size(); ++d) {
      int64_t idx = rem / st[d];
      rem %= st[d];
      if (!red[d]) o += idx * kst[d];
    }
    groups[o].push_back(v[i]);
  }
  std::vector<double> out;
  for (auto& g : groups) out.push_back(f(g));
  return out;
}

double vsum(const std::vector<double>& g) {
  double s = 0;
  for (double v : g) s += v;
  return s;
}

Tensor as_tensor(const std::vector<double>& v, const Shape& shape) {
  std::vector<float> f(v.begin(), v.end());
  return tensor(f, shape);
}

}  // namespace

class TestReduce : public QObject {
  Q_OBJECT
 private slots:
  void forward_over_every_layout() {
    Tensor base = param({4, 5, 6}, -2, 2, 3).detach();
    std::vector<std::vector<int>> dim_sets = {{2}, {0}, {1}, {0, 2}, {0, 1}, {1, 2}, {0, 1, 2}};
    for (bool transposed : {false, true}) {
      Tensor x = transposed ? base.permute({2, 0, 1}) : base;  // non-contiguous source
      Tensor xc = x.contiguous();
      for (const auto& ds : dim_sets) {
        std::vector<int64_t> dims(ds.begin(), ds.end());
        Shape keep = x.shape();
        for (int d : ds) keep[d] = 1;
        auto tag = [&](const char* op) { return std::string(op) + " dims " + Shape(dims).str() + (transposed ? " T" : ""); };
        auto check = [&](const Tensor& got, const std::vector<double>& want, const char* op) {
          std::string msg = nl::testing::compare(got.reshape(keep), as_tensor(want, keep), 1e-5, 1e-5);
          QVERIFY2(msg.empty(), (tag(op) + ": " + msg).c_str());
        };
        check(sum(x, dims), reference(xc, ds, vsum), "sum");
        check(mean(x, dims, true), reference(xc, ds, [](auto& g) { return vsum(g) / g.size(); }), "mean");
        check(amax(x, dims), reference(xc, ds, [](auto& g) { return *std::max_element(g.begin(), g.end()); }), "amax");
        check(amin(x, dims), reference(xc, ds, [](auto& g) { return *std::min_element(g.begin(), g.end()); }), "amin");
        check(var(x, dims), reference(xc, ds, [](auto& g) {
          double m = vsum(g) / g.size(), s = 0;
          for (double v : g) s += (v - m) * (v - m);
          return s / (g.size() - 1);
        }), "var");
        check(logsumexp(x, dims), reference(xc, ds, [](auto& g) {
          double s = 0;
          for (double v : g) s += std::exp(v);
          return std::log(s);
        }), "logsumexp");
      }
    }
  }

  void keepdim_and_shapes() {
    Tensor x = zeros({2, 3, 4});
    QCOMPARE(sum(x, {1}).shape(), (Shape{2, 4}));
    QCOMPARE(sum(x, {1}, true).shape(), (Shape{2, 1, 4}));
    QCOMPARE(sum(x, {-1, 0}).shape(), (Shape{3}));
    QCOMPARE(sum(x).shape(), Shape{});
    QCOMPARE(mean(x, {}, true).shape(), (Shape{1, 1, 1}));
    QCOMPARE(argmax(x, 2).shape(), (Shape{2, 3}));
    QCOMPARE(argmax(x, 2, true).shape(), (Shape{2, 3, 1}));
  }

  void argmax_argmin() {
    Tensor x = tensor({1, 7, 3, 9, 2, 9}, {2, 3});
    QCOMPARE(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // first of ties
    QCOMPARE(argmin(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
    QCOMPARE(argmax(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
    QCOMPARE(argmax(x.t(), 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
    QCOMPARE(argmax(tensor({1, NAN, 3}, {3}), 0).item(), 1.0);  // NaN counts as the maximum
  }

  void integer_and_bool_sums() {
    Tensor i = tensor(std::vector<int64_t>{1, 2, 3, 4}, {2, 2});
    QCOMPARE(sum(i, {0}).to_vector<int64_t>(), (std::vector<int64_t>{4, 6}));
    QCOMPARE(sum(gt(i, 1.0)).item(), 3.0);
    QCOMPARE(sum(gt(i, 1.0)).dtype(), DType::Int64);
  }

  void gradients() {
    using In = const std::vector<Tensor>&;
    Tensor x = param({3, 4, 5}, -2, 2, 9);
    NL_GRADCHECK([](In t) { return sum(t[0], {1}); }, {x});
    NL_GRADCHECK([](In t) { return sum(t[0].permute({2, 0, 1}), {0, 2}, true); }, {x});
    NL_GRADCHECK([](In t) { return mean(t[0], {0, 2}); }, {x});
    NL_GRADCHECK([](In t) { return amax(t[0], {2}); }, {x});
    NL_GRADCHECK([](In t) { return amin(t[0].transpose(0, 2), {0, 1}); }, {x});
    NL_GRADCHECK([](In t) { return var(t[0], {1}); }, {x});
    NL_GRADCHECK([](In t) { return stddev(t[0], {0, 1}, 0, true); }, {x});
    NL_GRADCHECK([](In t) { return logsumexp(t[0], {2}); }, {x});
    NL_GRADCHECK([](In t) { return sum(t[0]); }, {x});
    NL_GRADCHECK([](In t) { return mean(t[0]); }, {x});
  }

  void amax_splits_gradient_between_ties() {
    Tensor x = tensor({1, 3, 3, 2}, {4}, true);
    sum(amax(x, {0})).backward();
    QCOMPARE(x.grad().to_vector<float>(), (std::vector<float>{0, 0.5f, 0.5f, 0}));
  }

  void large_reductions_are_accurate() {
    Tensor x = full({1000, 1000}, 0.1);
    QVERIFY(std::fabs(sum(x).item() - 1e5) < 0.1);
    Tensor cols = sum(x, {0});
    QVERIFY(std::fabs(cols.to_vector<float>()[999] - 100.0f) < 1e-3);
    QVERIFY(std::fabs(mean(x, {1}).to_vector<float>()[500] - 0.1f) < 1e-6);
    QVERIFY(std::isinf(logsumexp(tensor({1000, 1000}, {2}), {0}).item()) == false);
    QVERIFY(std::fabs(logsumexp(tensor({1000, 1000}, {2}), {0}).item() - (1000 + std::log(2.0))) < 1e-3);
  }

  void errors() {
    QVERIFY(error_of([] { sum(zeros({2, 3}), {2}); }).find("out of range") != std::string::npos);
    QVERIFY(error_of([] { sum(zeros({2, 3}), {1, 1}); }).find("twice") != std::string::npos);
    QVERIFY(error_of([] { amax(zeros({2, 0}), {1}); }).find("empty") != std::string::npos);
    QVERIFY(error_of([] { argmax(zeros({2, 0}), 1); }).find("empty") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestReduce)
#include "test_reduce.moc"
