// Tests of max_pool2d and avg_pool2d: forward against direct-loop references written
// here (padding, dilation, ceil_mode, count_include_pad), values worked out by hand for
// PyTorch's divisor and ceil_mode rules, gradients, and argument errors.
#include <QObject>
#include <QtTest/QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "tests/engine/testing.h"

using namespace nl;

namespace {

// A float32 tensor from literal values (nl::tensor with a braced list is ambiguous
// between its float and int64 overloads).
Tensor floats(std::vector<float> values, const Shape& shape) { return tensor(values, shape); }

Pool2dParams pool(std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                  std::pair<int64_t, int64_t> padding, bool ceil_mode = false, bool count_include_pad = true,
                  std::pair<int64_t, int64_t> dilation = {1, 1}) {
  Pool2dParams p;
  p.kernel[0] = kernel.first, p.kernel[1] = kernel.second;
  p.stride[0] = stride.first, p.stride[1] = stride.second;
  p.padding[0] = padding.first, p.padding[1] = padding.second;
  p.dilation[0] = dilation.first, p.dilation[1] = dilation.second;
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

// Output length by enumerating window starts: a window counts when it fits in the padded
// input (floor mode) or, in ceil mode, when it starts before the padded end minus the
// window plus one stride, and inside the input or the left padding.
int64_t reference_out_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d, bool ceil_mode) {
  const int64_t window = d * (k - 1) + 1;
  int64_t count = 0;
  for (int64_t start = -pad;; start += s) {
    const bool fits = start + window <= in + pad;
    const bool ceil_ok = ceil_mode && start + window < in + pad + s && start < in;
    if (!fits && !ceil_ok) break;
    ++count;
  }
  return count;
}

// Pooling over the window taps one by one; padded taps are -inf for max and counted by
// position for avg: a tap inside the padded input counts for count_include_pad, a tap on
// the real input counts always, taps beyond the padding (ceil mode) never count.
Tensor reference_pool(const Tensor& x, const Pool2dParams& p, bool is_max) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = reference_out_size(H, p.kernel[0], p.stride[0], p.padding[0], p.dilation[0], p.ceil_mode);
  const int64_t OW = reference_out_size(W, p.kernel[1], p.stride[1], p.padding[1], p.dilation[1], p.ceil_mode);
  const auto xv = x.to_vector<double>();
  std::vector<float> out(N * C * OH * OW);
  for (int64_t plane = 0; plane < N * C; ++plane)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t padded_taps = 0, real_taps = 0;
        for (int64_t i = 0; i < p.kernel[0]; ++i)
          for (int64_t j = 0; j < p.kernel[1]; ++j) {
            const int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
            const int64_t iw = ow * p.stride[1] - p.padding[1] + j * p.dilation[1];
            if (ih < H + p.padding[0] && iw < W + p.padding[1]) ++padded_taps;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            ++real_taps;
            const double v = xv[(plane * H + ih) * W + iw];
            best = std::max(best, v);
            sum += v;
          }
        const double avg = sum / double(p.count_include_pad ? padded_taps : real_taps);
        out[(plane * OH + oh) * OW + ow] = float(is_max ? best : avg);
      }
  return tensor(out, Shape{N, C, OH, OW});
}

// Gradient of sum(pool(x) * g) with respect to x, tap by tap: max sends each output's
// gradient to the first largest tap of its window, avg spreads it over the real taps.
Tensor reference_pool_backward(const Tensor& x, const Tensor& g, const Pool2dParams& p, bool is_max) {
  const int64_t H = x.size(2), W = x.size(3), OH = g.size(2), OW = g.size(3);
  const auto xv = x.to_vector<double>(), gv = g.to_vector<double>();
  std::vector<double> gx(xv.size(), 0.0);
  for (int64_t plane = 0; plane < x.size(0) * x.size(1); ++plane)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        std::vector<int64_t> real;
        int64_t padded_taps = 0;
        for (int64_t i = 0; i < p.kernel[0]; ++i)
          for (int64_t j = 0; j < p.kernel[1]; ++j) {
            const int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
            const int64_t iw = ow * p.stride[1] - p.padding[1] + j * p.dilation[1];
            if (ih < H + p.padding[0] && iw < W + p.padding[1]) ++padded_taps;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) real.push_back((plane * H + ih) * W + iw);
          }
        const double go = gv[(plane * OH + oh) * OW + ow];
        if (is_max) {
          int64_t best = real.front();
          for (int64_t k : real)
            if (xv[k] > xv[best]) best = k;
          gx[best] += go;
        } else {
          const double divisor = double(p.count_include_pad ? padded_taps : int64_t(real.size()));
          for (int64_t k : real) gx[k] += go / divisor;
        }
      }
  return tensor(std::vector<float>(gx.begin(), gx.end()), x.shape());
}

// Distinct values 0.1 apart in shuffled order: no ties, and a finite-difference step of
// 0.01 never changes which cell wins a max-pooling window.
Tensor distinct_leaf(const Shape& shape, uint64_t seed) {
  std::vector<float> values(size_t(shape.numel()));
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * float(i) - 0.05f * float(values.size());
  std::shuffle(values.begin(), values.end(), std::mt19937(unsigned(seed)));
  return tensor(values, shape, /*requires_grad=*/true);
}

struct PoolCase {
  const char* name;
  Shape shape;
  Pool2dParams p;
};

std::vector<PoolCase> pool_cases() {
  return {
      {"2x2 stride 2", {2, 3, 8, 6}, pool({2, 2}, {2, 2}, {0, 0})},
      {"3x3 stride 2 padding 1", {2, 2, 9, 7}, pool({3, 3}, {2, 2}, {1, 1})},
      {"3x3 stride 1 overlapping", {1, 2, 6, 5}, pool({3, 3}, {1, 1}, {1, 1})},
      {"non-square 2x3", {2, 2, 7, 9}, pool({2, 3}, {1, 2}, {1, 1})},
      {"ceil mode", {2, 2, 6, 7}, pool({3, 3}, {3, 2}, {1, 0}, true)},
      {"ceil mode drops window in right padding", {1, 2, 5, 5}, pool({3, 3}, {3, 3}, {1, 1}, true)},
      {"ceil mode 2x2 odd input", {2, 1, 5, 7}, pool({2, 2}, {2, 2}, {0, 0}, true)},
      {"exclude pad", {2, 2, 7, 7}, pool({3, 3}, {2, 2}, {1, 1}, false, false)},
      {"exclude pad ceil mode", {1, 3, 6, 8}, pool({3, 2}, {2, 3}, {1, 1}, true, false)},
      {"include pad ceil mode", {1, 3, 6, 8}, pool({3, 2}, {2, 3}, {1, 1}, true, true)},
      {"stride above kernel", {1, 2, 10, 9}, pool({2, 2}, {3, 4}, {0, 1})},
  };
}

// Pool cases plus ones large enough that the kernels spread planes over threads; too
// large for finite differences, so their gradients are checked against the reference.
std::vector<PoolCase> all_pool_cases() {
  std::vector<PoolCase> cases = pool_cases();
  cases.push_back({"large 3x3 stride 2", {4, 8, 32, 30}, pool({3, 3}, {2, 2}, {1, 1})});
  cases.push_back({"large exclude pad ceil mode", {3, 8, 33, 31}, pool({3, 3}, {2, 2}, {1, 1}, true, false)});
  return cases;
}

Pool2dParams dilated(Pool2dParams p, int64_t dh, int64_t dw) {
  p.dilation[0] = dh, p.dilation[1] = dw;
  return p;
}

}  // namespace

class PoolTest : public QObject {
  Q_OBJECT

 private slots:
  void max_pool_matches_reference() {
    uint64_t seed = 1;
    for (const PoolCase& c : all_pool_cases()) {
      Tensor x = testing::param(c.shape, -1, 1, ++seed);
      std::string msg = testing::compare(max_pool2d(x, c.p), reference_pool(x, c.p, true), 0, 0);
      QVERIFY2(msg.empty(), (std::string(c.name) + ": " + msg).c_str());
    }
  }

  void max_pool_dilation_matches_reference() {
    Tensor x = testing::param({2, 2, 11, 10}, -1, 1, 3);
    for (const Pool2dParams& p : {dilated(pool({3, 3}, {1, 1}, {2, 1}), 2, 2), dilated(pool({2, 3}, {2, 2}, {1, 1}, true), 3, 2)}) {
      NL_EXPECT_CLOSE(max_pool2d(x, p), reference_pool(x, p, true), 0, 0);
    }
  }

  void avg_pool_matches_reference() {
    uint64_t seed = 50;
    for (const PoolCase& c : all_pool_cases()) {
      Tensor x = testing::param(c.shape, -1, 1, ++seed);
      std::string msg = testing::compare(avg_pool2d(x, c.p), reference_pool(x, c.p, false), 1e-5, 1e-6);
      QVERIFY2(msg.empty(), (std::string(c.name) + ": " + msg).c_str());
    }
  }

  void backward_matches_reference() {
    uint64_t seed = 90;
    for (const PoolCase& c : all_pool_cases()) {
      Tensor x = distinct_leaf(c.shape, ++seed);
      for (bool is_max : {true, false}) {
        x.zero_grad();
        Tensor out = is_max ? max_pool2d(x, c.p) : avg_pool2d(x, c.p);
        Generator gen(seed);
        Tensor g = uniform(out.shape(), -1, 1, {}, &gen);
        sum(mul(out, g)).backward();
        std::string msg = testing::compare(x.grad(), reference_pool_backward(x, g, c.p, is_max), 1e-5, 1e-5);
        QVERIFY2(msg.empty(), (std::string(c.name) + (is_max ? " max: " : " avg: ") + msg).c_str());
      }
    }
  }

  void ceil_mode_output_sizes() {
    // 6 wide, kernel 3, stride 3, padding 1: floor gives 2 windows, ceil 3 (the third
    // starts at 5, inside the input). 5 wide: ceil would give 3 but the third window
    // would start at 5, in the right padding, so it is dropped.
    QVERIFY(max_pool2d(zeros({1, 1, 6, 6}), pool({3, 3}, {3, 3}, {1, 1})).shape() == (Shape{1, 1, 2, 2}));
    QVERIFY(max_pool2d(zeros({1, 1, 6, 6}), pool({3, 3}, {3, 3}, {1, 1}, true)).shape() == (Shape{1, 1, 3, 3}));
    QVERIFY(avg_pool2d(zeros({1, 1, 5, 5}), pool({3, 3}, {3, 3}, {1, 1}, true)).shape() == (Shape{1, 1, 2, 2}));
    QVERIFY(avg_pool2d(zeros({1, 1, 5, 7}), pool({2, 2}, {2, 2}, {0, 0}, true)).shape() == (Shape{1, 1, 3, 4}));
  }

  // 4x4 ones, kernel 3, stride 2, padding 1, ceil_mode: windows start at -1, 1, 3 and the
  // last one is clipped to the padded input (rows 3..4), so PyTorch divides by 9, 9 and 6
  // along the top row and by 4 in the corner, counting the padding; without the padding
  // every window averages ones.
  void avg_pool_divisors_follow_pytorch() {
    Tensor x = ones({1, 1, 4, 4});
    Tensor with_pad = avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, true, true));
    const float a = 4.f / 9, b = 6.f / 9, c = 2.f / 6, d = 9.f / 9, e = 3.f / 6, f = 1.f / 4;
    NL_EXPECT_CLOSE(with_pad, floats({a, b, c, b, d, e, c, e, f}, {1, 1, 3, 3}), 0, 1e-6);
    Tensor without_pad = avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, true, false));
    NL_EXPECT_CLOSE(without_pad, ones({1, 1, 3, 3}), 0, 1e-6);
  }

  void max_pool_known_values_padding_and_nan() {
    // Padding is -inf, never 0: an all-negative input keeps its values.
    Tensor x = floats({-1, -2, -3, -4}, {1, 1, 2, 2});
    NL_EXPECT_CLOSE(max_pool2d(x, pool({2, 2}, {1, 1}, {1, 1})), floats({-1, -1, -2, -1, -1, -2, -3, -3, -4}, {1, 1, 3, 3}),
                    0, 0);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    Tensor with_nan = floats({1, nan, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4});
    auto out = max_pool2d(with_nan, pool({2, 2}, {2, 2}, {0, 0})).to_vector<float>();
    QVERIFY(std::isnan(out[0]));
    QCOMPARE(out[1], 8.f);
  }

  void max_pool_gradient_goes_to_first_of_tied_maxima() {
    Tensor x = ones({1, 1, 2, 4});
    x.requires_grad_(true);
    sum(max_pool2d(x, pool({2, 2}, {2, 2}, {0, 0}))).backward();
    NL_EXPECT_CLOSE(x.grad(), floats({1, 0, 1, 0, 0, 0, 0, 0}, {1, 1, 2, 4}), 0, 0);
  }

  void unbatched_input_is_a_batch_of_one() {
    Tensor x = testing::param({3, 6, 5}, -1, 1, 9);
    const Pool2dParams p = pool({2, 2}, {2, 2}, {1, 1}, true, false);
    Tensor out = avg_pool2d(x, p);
    QVERIFY2(out.shape() == (Shape{3, 4, 3}), out.shape().str().c_str());
    NL_EXPECT_CLOSE(out, reference_pool(x.unsqueeze(0), p, false).squeeze(0), 1e-5, 1e-6);
    NL_EXPECT_CLOSE(max_pool2d(x, p), reference_pool(x.unsqueeze(0), p, true).squeeze(0), 0, 0);
  }

  void gradcheck_max_pool() {
    for (const Pool2dParams& p : {pool({3, 3}, {1, 1}, {1, 1}), pool({2, 3}, {2, 2}, {1, 1}, true),
                                  dilated(pool({2, 2}, {1, 2}, {1, 0}), 2, 2)}) {
      Tensor x = distinct_leaf({2, 2, 6, 7}, 17);
      NL_GRADCHECK([p](const std::vector<Tensor>& in) { return max_pool2d(in[0], p); }, {x});
    }
  }

  void gradcheck_avg_pool() {
    uint64_t seed = 70;
    for (const PoolCase& c : pool_cases()) {
      Tensor x = testing::param(c.shape, -1, 1, ++seed);
      std::string msg =
          testing::gradcheck([p = c.p](const std::vector<Tensor>& in) { return avg_pool2d(in[0], p); }, {x});
      QVERIFY2(msg.empty(), (std::string(c.name) + ": " + msg).c_str());
    }
  }

  // The leaf is laid out [N, C, W, H]; the ops get a transposed, non-contiguous view.
  void gradcheck_non_contiguous_input() {
    Tensor x = distinct_leaf({2, 2, 7, 6}, 23);
    const Pool2dParams p = pool({3, 2}, {2, 1}, {1, 1}, true, false);
    NL_GRADCHECK([p](const std::vector<Tensor>& in) { return max_pool2d(in[0].transpose(2, 3), p); }, {x});
    NL_GRADCHECK([p](const std::vector<Tensor>& in) { return avg_pool2d(in[0].transpose(2, 3), p); }, {x});
  }

  void errors_name_the_bad_argument() {
    auto expect = [](const std::string& msg, const char* op, std::initializer_list<const char*> words) {
      QVERIFY2(!msg.empty(), "no error was raised");
      QVERIFY2(msg.rfind(op, 0) == 0, msg.c_str());
      for (const char* word : words) QVERIFY2(msg.find(word) != std::string::npos, (msg + " lacks: " + word).c_str());
    };
    const Tensor x = zeros({1, 2, 6, 6});
    expect(testing::error_of([&] { max_pool2d(zeros({6, 6}), pool({2, 2}, {2, 2}, {0, 0})); }), "max_pool2d",
           {"4-D", "[6, 6]"});
    expect(testing::error_of([&] { avg_pool2d(zeros({1, 2, 6, 6}, {.dtype = DType::Int64}), pool({2, 2}, {2, 2}, {0, 0})); }),
           "avg_pool2d", {"float32", "int64"});
    expect(testing::error_of([&] { max_pool2d(x, pool({0, 2}, {2, 2}, {0, 0})); }), "max_pool2d", {"kernel"});
    expect(testing::error_of([&] { avg_pool2d(x, pool({2, 2}, {2, 0}, {0, 0})); }), "avg_pool2d", {"stride"});
    expect(testing::error_of([&] { max_pool2d(x, pool({2, 2}, {2, 2}, {-1, 0})); }), "max_pool2d", {"padding"});
    expect(testing::error_of([&] { max_pool2d(x, pool({3, 3}, {1, 1}, {2, 1})); }), "max_pool2d",
           {"padding", "half"});
    expect(testing::error_of([&] { avg_pool2d(x, pool({2, 2}, {1, 1}, {0, 2})); }), "avg_pool2d",
           {"padding", "half"});
    expect(testing::error_of([&] { max_pool2d(zeros({1, 2, 2, 2}), pool({3, 3}, {1, 1}, {0, 0})); }), "max_pool2d",
           {"output size", "[1, 2, 2, 2]"});
    expect(testing::error_of([&] { avg_pool2d(x, pool({2, 2}, {1, 1}, {0, 0}, false, true, {2, 2})); }),
           "avg_pool2d", {"dilation"});
    expect(testing::error_of([&] { max_pool2d(x, pool({2, 2}, {1, 1}, {0, 0}, false, true, {0, 1})); }),
           "max_pool2d", {"dilation"});
  }
};

QTEST_APPLESS_MAIN(PoolTest)
#include "test_pool.moc"
