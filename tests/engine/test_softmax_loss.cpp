// Tests of softmax, log_softmax and the fused cross_entropy: forward against double
// references, numerical stability, every reduction, ignore_index, label smoothing, the
// [N, C, d] layout, gradients by finite differences, and errors.
#include <cmath>
#include <limits>
#include <vector>

#include "testing.h"

using namespace nl;
using nl::testing::error_of;
using nl::testing::param;

namespace {

Tensor to_tensor(const std::vector<double>& v, const Shape& shape) {
  return tensor(std::vector<float>(v.begin(), v.end()), shape);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Softmax (or log-softmax) of a contiguous tensor along `dim`, in double.
std::vector<double> softmax_ref(const Tensor& x, int dim, bool log) {
  auto v = x.to_vector<double>();
  int64_t outer = 1, n = x.size(dim), inner = 1;
  for (int d = 0; d < dim; ++d) outer *= x.size(d);
  for (int d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  std::vector<double> y(v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t p = 0; p < inner; ++p) {
      auto at = [&](int64_t k) { return (o * n + k) * inner + p; };
      double mx = -INFINITY, s = 0;
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, v[at(k)]);
      for (int64_t k = 0; k < n; ++k) s += std::exp(v[at(k)] - mx);
      for (int64_t k = 0; k < n; ++k) y[at(k)] = log ? v[at(k)] - mx - std::log(s) : std::exp(v[at(k)] - mx) / s;
    }
  return y;
}

// Per-row cross-entropy of logits [N, C] in double, PyTorch's definition; 0 where ignored.
std::vector<double> cross_entropy_ref(const std::vector<double>& logits, const std::vector<int64_t>& target,
                                      int64_t c, int64_t ignore_index, double smoothing) {
  std::vector<double> loss(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == ignore_index) continue;
    double mx = -INFINITY, s = 0;
    for (int64_t k = 0; k < c; ++k) mx = std::max(mx, logits[i * c + k]);
    for (int64_t k = 0; k < c; ++k) s += std::exp(logits[i * c + k] - mx);
    const double lse = mx + std::log(s);
    double smooth = 0;  // mean over classes of -log p
    for (int64_t k = 0; k < c; ++k) smooth += (lse - logits[i * c + k]) / c;
    loss[i] = (1 - smoothing) * (lse - logits[i * c + target[i]]) + smoothing * smooth;
  }
  return loss;
}

}  // namespace

class SoftmaxLossTest : public QObject {
  Q_OBJECT

 private slots:
  void softmaxLastDimMatchesReference() {
    Tensor x = param({4, 7}, -3, 3, 1).detach();
    NL_EXPECT_CLOSE(softmax(x, -1), to_tensor(softmax_ref(x, 1, false), x.shape()), 1e-5, 1e-6);
    NL_EXPECT_CLOSE(log_softmax(x, 1), to_tensor(softmax_ref(x, 1, true), x.shape()), 1e-5, 1e-5);
    // Rows sum to one.
    NL_EXPECT_CLOSE(sum(softmax(x, 1), {1}), ones({4}), 1e-5, 1e-6);
  }

  void softmaxNonLastDimMatchesReference() {
    // inner = 70 crosses the kernel's column-block boundary.
    Tensor x = param({2, 5, 70}, -3, 3, 2).detach();
    for (int dim : {0, 1}) {
      NL_EXPECT_CLOSE(softmax(x, dim), to_tensor(softmax_ref(x, dim, false), x.shape()), 1e-5, 1e-6);
      NL_EXPECT_CLOSE(log_softmax(x, dim), to_tensor(softmax_ref(x, dim, true), x.shape()), 1e-5, 1e-5);
    }
  }

  void softmaxLargeInputsParallel() {
    Tensor rows = param({64, 1024}, -5, 5, 3).detach();
    NL_EXPECT_CLOSE(softmax(rows, 1), to_tensor(softmax_ref(rows, 1, false), rows.shape()), 1e-4, 1e-7);
    Tensor cols = param({3, 100, 130}, -5, 5, 4).detach();
    NL_EXPECT_CLOSE(log_softmax(cols, 1), to_tensor(softmax_ref(cols, 1, true), cols.shape()), 1e-5, 1e-5);
  }

  void softmaxIsStableForLargeValues() {
    Tensor x = add(param({3, 5}, -2, 2, 5).detach(), 1000.0);
    Tensor y = softmax(x, 1), ly = log_softmax(x, 1);
    for (double v : y.to_vector<double>()) QVERIFY(std::isfinite(v));
    for (double v : ly.to_vector<double>()) QVERIFY(std::isfinite(v));
    NL_EXPECT_CLOSE(y, to_tensor(softmax_ref(x, 1, false), x.shape()), 1e-4, 1e-6);
    NL_EXPECT_CLOSE(ly, to_tensor(softmax_ref(x, 1, true), x.shape()), 1e-4, 1e-4);
    // Along a non-last dimension too, and for large negative values.
    Tensor z = mul(x, -1.0);
    for (double v : softmax(z, 0).to_vector<double>()) QVERIFY(std::isfinite(v));
    NL_EXPECT_CLOSE(log_softmax(z, 0), to_tensor(softmax_ref(z, 0, true), z.shape()), 1e-4, 1e-4);
  }

  void softmaxGradients() {
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {param({3, 5}, -2, 2, 11)});
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); }, {param({3, 5}, -2, 2, 12)});
  }

  void softmaxGradientsAlongNonLastDim() {
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0], 1); }, {param({2, 4, 3}, -2, 2, 13)});
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); }, {param({4, 3}, -2, 2, 14)});
  }

  void softmaxGradientsOfTransposedInput() {
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0].transpose(0, 1), 1); },
                 {param({5, 3}, -2, 2, 15)});
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0].permute({2, 0, 1}), 2); },
                 {param({3, 2, 4}, -2, 2, 16)});
  }

  void softmaxRejectsBadArguments() {
    std::string e = error_of([] { softmax(zeros({2, 3}), 2); });
    QVERIFY2(contains(e, "softmax") && contains(e, "dimension 2"), e.c_str());
    e = error_of([] { log_softmax(zeros({2, 3}).to(DType::Int64), 1); });
    QVERIFY2(contains(e, "log_softmax") && contains(e, "int64"), e.c_str());
  }

  void crossEntropyKnownValue() {
    // log(e^1 + e^2 + e^3) - 3 = 0.4076059644; with smoothing 0.1: lse - 0.9·3 - 0.1·2.
    Tensor logits = tensor(std::vector<float>{1, 2, 3}, {1, 3});
    Tensor target = tensor(std::vector<int64_t>{2}, {1});
    QVERIFY(std::fabs(cross_entropy(logits, target).item() - 0.4076059644) < 1e-6);
    QVERIFY(std::fabs(cross_entropy(logits, target, Reduction::Mean, -100, 0.1).item() - 0.5076059644) < 1e-6);
  }

  void crossEntropyReductionsMatchReference() {
    Tensor logits = param({6, 5}, -3, 3, 21).detach();
    std::vector<int64_t> t{0, 4, -100, 2, 2, -100};
    Tensor target = tensor(t, {6});
    for (double smoothing : {0.0, 0.2}) {
      auto per_row = cross_entropy_ref(logits.to_vector<double>(), t, 5, -100, smoothing);
      double total = 0;
      for (double v : per_row) total += v;
      NL_EXPECT_CLOSE(cross_entropy(logits, target, Reduction::None, -100, smoothing), to_tensor(per_row, {6}), 1e-5,
                      1e-6);
      QVERIFY(std::fabs(cross_entropy(logits, target, Reduction::Sum, -100, smoothing).item() - total) < 1e-4);
      // Mean divides by the 4 targets that are not ignored.
      QVERIFY(std::fabs(cross_entropy(logits, target, Reduction::Mean, -100, smoothing).item() - total / 4) < 1e-5);
    }
  }

  void crossEntropyCustomIgnoreIndex() {
    Tensor logits = param({4, 3}, -1, 1, 22).detach();
    std::vector<int64_t> t{1, 0, 1, 2};
    auto per_row = cross_entropy_ref(logits.to_vector<double>(), t, 3, 1, 0.0);
    const double mean = (per_row[1] + per_row[3]) / 2;
    QVERIFY(std::fabs(cross_entropy(logits, tensor(t, {4}), Reduction::Mean, 1).item() - mean) < 1e-5);
  }

  void crossEntropyAllIgnoredMeanIsNaN() {
    // 0 / 0, as in PyTorch; the gradient is still zero rather than NaN.
    Tensor logits = param({2, 3}, -1, 1, 23);
    Tensor loss = cross_entropy(logits, tensor(std::vector<int64_t>{-100, -100}, {2}));
    QVERIFY(std::isnan(loss.item()));
    loss.backward();
    NL_EXPECT_CLOSE(logits.grad(), zeros({2, 3}), 0, 0);
  }

  void crossEntropySpatialLayout() {
    // logits [N, C, d1, d2], target [N, d1, d2]: each position is its own sample.
    Tensor logits = param({2, 4, 3, 2}, -2, 2, 24).detach();
    std::vector<int64_t> t{0, 1, 2, 3, -100, 1, 3, 3, 0, 2, 1, 0};
    Tensor target = tensor(t, {2, 3, 2});
    auto lv = logits.to_vector<double>();
    std::vector<double> rows;  // [N·d1·d2, C] with classes last
    for (int n = 0; n < 2; ++n)
      for (int p = 0; p < 6; ++p)
        for (int c = 0; c < 4; ++c) rows.push_back(lv[(n * 4 + c) * 6 + p]);
    auto per_pos = cross_entropy_ref(rows, t, 4, -100, 0.1);
    NL_EXPECT_CLOSE(cross_entropy(logits, target, Reduction::None, -100, 0.1), to_tensor(per_pos, {2, 3, 2}), 1e-5,
                    1e-6);
    double total = 0;
    for (double v : per_pos) total += v;
    QVERIFY(std::fabs(cross_entropy(logits, target, Reduction::Mean, -100, 0.1).item() - total / 11) < 1e-5);
  }

  void crossEntropyLargeBatchParallel() {
    Tensor logits = param({256, 200}, -4, 4, 25).detach();
    std::vector<int64_t> t;
    for (int i = 0; i < 256; ++i) t.push_back(i % 7 == 0 ? -100 : (i * 37) % 200);
    auto per_row = cross_entropy_ref(logits.to_vector<double>(), t, 200, -100, 0.05);
    NL_EXPECT_CLOSE(cross_entropy(logits, tensor(t, {256}), Reduction::None, -100, 0.05), to_tensor(per_row, {256}),
                    1e-5, 1e-5);
  }

  void crossEntropyGradients() {
    Tensor target = tensor(std::vector<int64_t>{2, -100, 0, 3}, {4});
    for (Reduction r : {Reduction::None, Reduction::Sum, Reduction::Mean})
      for (double smoothing : {0.0, 0.3}) {
        auto f = [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], target, r, -100, smoothing); };
        NL_GRADCHECK(f, {param({4, 5}, -2, 2, 31)});
      }
  }

  void crossEntropyGradientsSpatialAndTransposed() {
    Tensor target = tensor(std::vector<int64_t>{0, 2, 1, -100, 2, 0}, {2, 3});
    auto spatial = [&](const std::vector<Tensor>& in) {
      return cross_entropy(in[0], target, Reduction::Mean, -100, 0.1);
    };
    NL_GRADCHECK(spatial, {param({2, 3, 3}, -2, 2, 32)});
    auto per_position = [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], target, Reduction::None); };
    NL_GRADCHECK(per_position, {param({2, 3, 3}, -2, 2, 33)});
    // Logits arriving as a transposed view [N, C] of a [C, N] leaf.
    Tensor flat_target = tensor(std::vector<int64_t>{1, 0, 3}, {3});
    auto transposed = [&](const std::vector<Tensor>& in) { return cross_entropy(in[0].t(), flat_target); };
    NL_GRADCHECK(transposed, {param({4, 3}, -2, 2, 34)});
  }

  void crossEntropyRejectsBadTargets() {
    Tensor logits = zeros({3, 5});
    std::string e = error_of([&] { cross_entropy(logits, tensor(std::vector<int64_t>{1, 7, 0}, {3})); });
    QVERIFY2(contains(e, "cross_entropy") && contains(e, "target 7") && contains(e, "position 1"), e.c_str());
    e = error_of([&] { cross_entropy(logits, tensor(std::vector<int64_t>{1, 0, -1}, {3})); });
    QVERIFY2(contains(e, "target -1") && contains(e, "position 2"), e.c_str());
    e = error_of([&] { cross_entropy(logits, zeros({3})); });
    QVERIFY2(contains(e, "int64") && contains(e, "float32"), e.c_str());
    e = error_of([&] { cross_entropy(logits, tensor(std::vector<int64_t>{1, 0}, {2})); });
    QVERIFY2(contains(e, "target shape [2]") && contains(e, "[3, 5]"), e.c_str());
    e = error_of([&] { cross_entropy(zeros({5}), tensor(std::vector<int64_t>{1}, {1})); });
    QVERIFY2(contains(e, "logits must be"), e.c_str());
    e = error_of([&] { cross_entropy(logits, tensor(std::vector<int64_t>{1, 0, 2}, {3}), Reduction::Mean, -100, 1.5); });
    QVERIFY2(contains(e, "label_smoothing"), e.c_str());
  }
};

QTEST_APPLESS_MAIN(SoftmaxLossTest)
#include "test_softmax_loss.moc"
