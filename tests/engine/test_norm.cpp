// Tests of batch_norm and layer_norm: forward against double-precision references written
// here, running-statistics updates, eval mode, gradients by finite differences, and errors.
#include <cmath>
#include <vector>

#include "testing.h"

using namespace nl;
using nl::testing::error_of;
using nl::testing::param;
using nl::testing::contains;
using nl::testing::to_tensor;

namespace {

// Per-channel mean and biased variance of x [N, C, S...] (flattened trailing dims).
struct Moments {
  std::vector<double> mean, var;
};
Moments channel_moments(const std::vector<double>& x, int64_t n, int64_t c, int64_t s) {
  Moments m{std::vector<double>(c, 0), std::vector<double>(c, 0)};
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) m.mean[ch] += x[(i * c + ch) * s + k];
    m.mean[ch] /= n * s;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) m.var[ch] += std::pow(x[(i * c + ch) * s + k] - m.mean[ch], 2);
    m.var[ch] /= n * s;
  }
  return m;
}

// y = (x - mean[ch]) / sqrt(var[ch] + eps) * w[ch] + b[ch]; empty w/b mean 1/0.
std::vector<double> normalise_channels(const std::vector<double>& x, int64_t n, int64_t c, int64_t s,
                                       const std::vector<double>& mean, const std::vector<double>& var,
                                       const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < s; ++k) {
        size_t at = (i * c + ch) * s + k;
        y[at] = (x[at] - mean[ch]) / std::sqrt(var[ch] + eps) * (w.empty() ? 1 : w[ch]) + (b.empty() ? 0 : b[ch]);
      }
  return y;
}

// Layer norm over the last d elements of each row.
std::vector<double> layer_norm_ref(const std::vector<double>& x, int64_t d, const std::vector<double>& w,
                                   const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double mean = 0, var = 0;
    for (int64_t k = 0; k < d; ++k) mean += x[r * d + k];
    mean /= d;
    for (int64_t k = 0; k < d; ++k) var += std::pow(x[r * d + k] - mean, 2);
    var /= d;
    for (int64_t k = 0; k < d; ++k)
      y[r * d + k] = (x[r * d + k] - mean) / std::sqrt(var + eps) * (w.empty() ? 1 : w[k]) + (b.empty() ? 0 : b[k]);
  }
  return y;
}

}  // namespace

class NormTest : public QObject {
  Q_OBJECT

 private slots:
  void batchNormTrainingMatchesReference() {
    // Offset by 50 so a one-pass E[x²] - E[x]² in float would visibly lose the variance.
    Tensor x = param({4, 3, 5}, 49, 51, 11).detach();
    Tensor w = param({3}, 0.5, 1.5, 12).detach(), b = param({3}, -1, 1, 13).detach();
    Tensor y = batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 1e-5);
    auto xv = x.to_vector<double>();
    Moments m = channel_moments(xv, 4, 3, 5);
    auto expected = normalise_channels(xv, 4, 3, 5, m.mean, m.var, w.to_vector<double>(), b.to_vector<double>(), 1e-5);
    NL_EXPECT_CLOSE(y, to_tensor(expected, {4, 3, 5}), 1e-4, 1e-4);
  }

  void batchNormWithoutAffineOn2dInput() {
    Tensor x = param({6, 4}, -2, 2, 21).detach();
    Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    auto xv = x.to_vector<double>();
    Moments m = channel_moments(xv, 6, 4, 1);
    NL_EXPECT_CLOSE(y, to_tensor(normalise_channels(xv, 6, 4, 1, m.mean, m.var, {}, {}, 1e-5), {6, 4}), 1e-4, 1e-5);
  }

  void batchNormLargeInputUsesAllChannels() {
    // Large enough for the parallel path.
    Tensor x = param({8, 16, 32, 16}, -3, 5, 31).detach();
    Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    auto xv = x.to_vector<double>();
    Moments m = channel_moments(xv, 8, 16, 512);
    NL_EXPECT_CLOSE(y, to_tensor(normalise_channels(xv, 8, 16, 512, m.mean, m.var, {}, {}, 1e-5), x.shape()), 1e-4,
                    1e-4);
  }

  void batchNormKeepsPrecisionOnLargeOffsetsInLargePlanes() {
    // 32x32 planes on an offset of 1000: plane sums are taken in float (Note [Plane sums]).
    Tensor x = param({4, 3, 32, 32}, 1000, 1001, 35).detach();
    Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    auto xv = x.to_vector<double>();
    Moments m = channel_moments(xv, 4, 3, 1024);
    NL_EXPECT_CLOSE(y, to_tensor(normalise_channels(xv, 4, 3, 1024, m.mean, m.var, {}, {}, 1e-5), x.shape()), 1e-3,
                    1e-3);
  }

  void batchNormUpdatesRunningStats() {
    Tensor x = param({5, 2, 3}, -1, 3, 41).detach();
    Tensor running_mean = tensor(std::vector<float>{0.5f, -0.5f}, {2});
    Tensor running_var = tensor(std::vector<float>{1.0f, 2.0f}, {2});
    batch_norm(x, Tensor(), Tensor(), running_mean, running_var, true, 0.2, 1e-5);
    Moments m = channel_moments(x.to_vector<double>(), 5, 2, 3);
    const double count = 15;
    std::vector<double> rm{0.8 * 0.5 + 0.2 * m.mean[0], 0.8 * -0.5 + 0.2 * m.mean[1]};
    // Running variance uses the unbiased estimate (n / (n - 1)), as PyTorch does.
    std::vector<double> rv{0.8 * 1.0 + 0.2 * m.var[0] * count / (count - 1),
                           0.8 * 2.0 + 0.2 * m.var[1] * count / (count - 1)};
    NL_EXPECT_CLOSE(running_mean, to_tensor(rm, {2}), 1e-5, 1e-6);
    NL_EXPECT_CLOSE(running_var, to_tensor(rv, {2}), 1e-5, 1e-6);
  }

  void batchNormUpdatesStridedRunningStats() {
    // Running stats given as a strided view are updated in place through a copy.
    Tensor x = param({4, 3}, -1, 1, 42).detach();
    Tensor stats = zeros({3, 2});
    Tensor running_mean = stats.select(1, 0), running_var = stats.select(1, 1);
    fill_(running_var, 1.0);
    batch_norm(x, Tensor(), Tensor(), running_mean, running_var, true, 0.5, 1e-5);
    Moments m = channel_moments(x.to_vector<double>(), 4, 3, 1);
    std::vector<double> expected;
    for (int ch = 0; ch < 3; ++ch) {
      expected.push_back(0.5 * m.mean[ch]);
      expected.push_back(0.5 + 0.5 * m.var[ch] * 4 / 3);
    }
    NL_EXPECT_CLOSE(stats, to_tensor(expected, {3, 2}), 1e-5, 1e-6);
  }

  void batchNormEvalUsesRunningStats() {
    Tensor x = param({3, 2, 4}, -2, 2, 51).detach();
    std::vector<double> rm{0.3, -0.2}, rv{0.5, 2.0}, w{1.5, -0.5}, b{0.1, 0.2};
    Tensor running_mean = to_tensor(rm, {2}), running_var = to_tensor(rv, {2});
    Tensor y = batch_norm(x, to_tensor(w, {2}), to_tensor(b, {2}), running_mean, running_var, false, 0.1, 1e-3);
    auto expected = normalise_channels(x.to_vector<double>(), 3, 2, 4, rm, rv, w, b, 1e-3);
    NL_EXPECT_CLOSE(y, to_tensor(expected, {3, 2, 4}), 1e-5, 1e-5);
    // Eval mode leaves the running statistics alone.
    NL_EXPECT_CLOSE(running_mean, to_tensor(rm, {2}), 0, 0);
    NL_EXPECT_CLOSE(running_var, to_tensor(rv, {2}), 0, 0);
  }

  void batchNormTrainingGradients() {
    auto f = [](const std::vector<Tensor>& in) {
      return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
    };
    NL_GRADCHECK(f, {param({4, 3, 2}, -1, 1, 61), param({3}, 0.5, 1.5, 62), param({3}, -1, 1, 63)});
  }

  void batchNormTrainingGradientsOfPermutedInput() {
    // The kernel sees a contiguous copy of a permuted view; the gradient must flow back through it.
    auto f = [](const std::vector<Tensor>& in) {
      return batch_norm(in[0].permute({2, 1, 0}), in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
    };
    NL_GRADCHECK(f, {param({5, 3, 4}, -1, 1, 64), param({3}, 0.5, 1.5, 65), param({3}, -1, 1, 66)});
  }

  void batchNormEvalGradients() {
    Tensor rm = tensor(std::vector<float>{0.1f, -0.3f, 0.2f}, {3});
    Tensor rv = tensor(std::vector<float>{0.8f, 1.5f, 0.4f}, {3});
    auto f = [&](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-5); };
    NL_GRADCHECK(f, {param({2, 3, 3}, -1, 1, 71), param({3}, 0.5, 1.5, 72), param({3}, -1, 1, 73)});
  }

  void batchNormGradientOnlyWhereAsked() {
    Tensor x = param({4, 2}, -1, 1, 81);
    Tensor w = ones({2});  // does not require grad
    Tensor b = param({2}, -1, 1, 82);
    sum(mul(batch_norm(x, w, b, Tensor(), Tensor(), true), param({4, 2}, -1, 1, 83).detach())).backward();
    QVERIFY(x.grad().defined());
    QVERIFY(!w.grad().defined());
    QVERIFY(b.grad().defined());
    // Without a weight, the bias still gets its gradient (the sum of the output gradient).
    Tensor b2 = param({2}, -1, 1, 84);
    sum(batch_norm(x.detach(), Tensor(), b2, Tensor(), Tensor(), true)).backward();
    NL_EXPECT_CLOSE(b2.grad(), full({2}, 4.0), 1e-6, 1e-6);
  }

  void batchNormRejectsBadArguments() {
    Tensor x = zeros({4, 3, 2});
    std::string e = error_of([&] { batch_norm(zeros({4}), Tensor(), Tensor(), Tensor(), Tensor(), true); });
    QVERIFY2(contains(e, "batch_norm") && contains(e, "[4]"), e.c_str());
    e = error_of([&] { batch_norm(x, ones({4}), Tensor(), Tensor(), Tensor(), true); });
    QVERIFY2(contains(e, "weight") && contains(e, "[4]") && contains(e, "[3]"), e.c_str());
    e = error_of([&] { batch_norm(x.to(DType::Int64), Tensor(), Tensor(), Tensor(), Tensor(), true); });
    QVERIFY2(contains(e, "float32") && contains(e, "int64"), e.c_str());
    e = error_of([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false); });
    QVERIFY2(contains(e, "running_mean"), e.c_str());
    e = error_of([&] { batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); });
    QVERIFY2(contains(e, "more than one value per channel"), e.c_str());
    e = error_of([&] { batch_norm(x, Tensor(), Tensor(), zeros({3}), Tensor(), true); });
    QVERIFY2(contains(e, "together"), e.c_str());
  }

  void layerNormMatchesReference() {
    Tensor x = param({3, 4, 5}, -2, 3, 91).detach();
    Tensor w = param({4, 5}, 0.5, 1.5, 92).detach(), b = param({4, 5}, -1, 1, 93).detach();
    auto xv = x.to_vector<double>();
    NL_EXPECT_CLOSE(layer_norm(x, {4, 5}, w, b),
                    to_tensor(layer_norm_ref(xv, 20, w.to_vector<double>(), b.to_vector<double>(), 1e-5), {3, 4, 5}),
                    1e-4, 1e-5);
    NL_EXPECT_CLOSE(layer_norm(x, {5}), to_tensor(layer_norm_ref(xv, 5, {}, {}, 1e-5), {3, 4, 5}), 1e-4, 1e-5);
  }

  void layerNormKeepsPrecisionOnLargeOffsets() {
    Tensor x = param({4, 64}, 1000, 1001, 94).detach();
    auto expected = layer_norm_ref(x.to_vector<double>(), 64, {}, {}, 1e-5);
    NL_EXPECT_CLOSE(layer_norm(x, {64}), to_tensor(expected, {4, 64}), 1e-3, 1e-3);
  }

  void layerNormLargeInputParallel() {
    Tensor x = param({256, 384}, -1, 1, 95).detach();
    Tensor w = param({384}, 0.5, 1.5, 96).detach();
    auto expected = layer_norm_ref(x.to_vector<double>(), 384, w.to_vector<double>(), {}, 1e-5);
    NL_EXPECT_CLOSE(layer_norm(x, {384}, w), to_tensor(expected, x.shape()), 1e-4, 1e-4);
  }

  void layerNormGradients() {
    auto f = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {2, 3}, in[1], in[2]); };
    NL_GRADCHECK(f, {param({4, 2, 3}, -1, 1, 101), param({2, 3}, 0.5, 1.5, 102), param({2, 3}, -1, 1, 103)});
  }

  void layerNormGradientsOfTransposedInput() {
    auto f = [](const std::vector<Tensor>& in) { return layer_norm(in[0].transpose(0, 1), {3}, in[1], in[2]); };
    NL_GRADCHECK(f, {param({3, 5}, -1, 1, 104), param({3}, 0.5, 1.5, 105), param({3}, -1, 1, 106)});
  }

  void layerNormGradientsWithoutAffine() {
    auto f = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {6}); };
    NL_GRADCHECK(f, {param({3, 6}, -1, 1, 107)});
  }

  void layerNormColumnSumsAcrossThreads() {
    // Many rows, so weight/bias gradients are summed from several threads' partial sums.
    Tensor x = param({512, 96}, -1, 1, 108).detach();
    Tensor w = param({96}, 0.5, 1.5, 109), b = param({96}, -1, 1, 110);
    Tensor g = param({512, 96}, -1, 1, 111).detach();
    sum(mul(layer_norm(x, {96}, w, b), g)).backward();
    auto xhat = layer_norm_ref(x.to_vector<double>(), 96, {}, {}, 1e-5);
    auto gv = g.to_vector<double>();
    std::vector<double> gw(96, 0), gb(96, 0);
    for (size_t i = 0; i < gv.size(); ++i) {
      gw[i % 96] += gv[i] * xhat[i];
      gb[i % 96] += gv[i];
    }
    NL_EXPECT_CLOSE(w.grad(), to_tensor(gw, {96}), 1e-4, 1e-3);
    NL_EXPECT_CLOSE(b.grad(), to_tensor(gb, {96}), 1e-4, 1e-3);
  }

  void layerNormRejectsBadArguments() {
    Tensor x = zeros({2, 3, 4});
    std::string e = error_of([&] { layer_norm(x, {3}); });
    QVERIFY2(contains(e, "layer_norm") && contains(e, "[3]") && contains(e, "[2, 3, 4]"), e.c_str());
    e = error_of([&] { layer_norm(x, {4}, ones({3})); });
    QVERIFY2(contains(e, "weight") && contains(e, "[3]"), e.c_str());
    e = error_of([&] { layer_norm(x, {4}, Tensor(), ones({4}).to(DType::Int64)); });
    QVERIFY2(contains(e, "bias") && contains(e, "int64"), e.c_str());
    e = error_of([&] { layer_norm(x.to(DType::Int64), {4}); });
    QVERIFY2(contains(e, "float32"), e.c_str());
    e = error_of([&] { layer_norm(x, {}); });
    QVERIFY2(contains(e, "at least one"), e.c_str());
    e = error_of([&] { layer_norm(x, {1, 2, 3, 4}); });
    QVERIFY2(contains(e, "does not match"), e.c_str());
  }
};

QTEST_APPLESS_MAIN(NormTest)
#include "test_norm.moc"
