// Tests of conv2d: forward and backward against direct-loop references written here,
// gradients against finite differences, both threading paths, and argument errors.
#include <QObject>
#include <QtTest/QtTest>

#include <string>
#include <vector>

#include "engine/backends/cpu/conv_direct.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "tests/engine/testing.h"

using namespace nl;

namespace {

struct ConvCase {
  const char* name;
  int64_t n, c, h, w, out_channels, kh, kw;
  Conv2dParams p;
  bool bias = true;
};

Conv2dParams params(std::pair<int64_t, int64_t> stride, std::pair<int64_t, int64_t> padding,
                    std::pair<int64_t, int64_t> dilation, int64_t groups) {
  Conv2dParams p;
  p.stride[0] = stride.first, p.stride[1] = stride.second;
  p.padding[0] = padding.first, p.padding[1] = padding.second;
  p.dilation[0] = dilation.first, p.dilation[1] = dilation.second;
  p.groups = groups;
  return p;
}

// Shapes covering every code path: im2col with stride/padding/dilation/groups, the
// pointwise (no im2col) path, depthwise, odd batches, padding wider than the kernel, and
// one case big enough that OpenBLAS threads its GEMMs instead of the batch being split;
// ungrouped convolutions with 16 or more input channels take the pixel-major path, and
// 512-pixel multiples the padded column rows (Note [Column padding]).
std::vector<ConvCase> forward_cases() {
  return {
      {"3x3 plain", 2, 3, 7, 6, 4, 3, 3, params({1, 1}, {0, 0}, {1, 1}, 1)},
      {"stride 2 padding 1", 2, 3, 9, 8, 5, 3, 3, params({2, 2}, {1, 1}, {1, 1}, 1)},
      {"dilation 2", 1, 2, 9, 10, 3, 3, 3, params({1, 1}, {2, 2}, {2, 2}, 1)},
      {"groups 2", 2, 4, 6, 7, 6, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 2)},
      {"depthwise", 2, 5, 8, 8, 5, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 5)},
      {"depthwise x2 stride 2", 3, 3, 9, 7, 6, 3, 3, params({2, 2}, {1, 1}, {1, 1}, 3)},
      {"depthwise non-square dilated", 2, 4, 10, 9, 4, 2, 3, params({1, 2}, {2, 1}, {3, 2}, 4), false},
      {"depthwise large", 4, 16, 24, 20, 16, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 16)},
      {"1x1 pointwise", 3, 6, 5, 4, 8, 1, 1, params({1, 1}, {0, 0}, {1, 1}, 1)},
      {"1x1 pointwise groups 2", 2, 6, 5, 4, 4, 1, 1, params({1, 1}, {0, 0}, {1, 1}, 2)},
      {"1x1 stride 2", 2, 3, 7, 6, 4, 1, 1, params({2, 2}, {0, 0}, {1, 1}, 1)},
      {"1x1 stride 2x1", 2, 3, 7, 6, 4, 1, 1, params({2, 1}, {0, 0}, {1, 1}, 1)},
      {"1x1 padding 1x0", 2, 3, 4, 5, 2, 1, 1, params({1, 1}, {1, 0}, {1, 1}, 1)},
      {"1x1 padding 2", 1, 2, 3, 4, 3, 1, 1, params({1, 1}, {2, 2}, {1, 1}, 1)},
      {"non-square 2x5", 2, 3, 10, 11, 4, 2, 5, params({1, 2}, {0, 2}, {2, 1}, 1)},
      {"non-square 4x1 stride 3", 2, 2, 11, 5, 3, 4, 1, params({3, 1}, {1, 0}, {1, 1}, 1)},
      {"stride above kernel", 2, 2, 9, 9, 2, 2, 2, params({3, 3}, {0, 0}, {1, 1}, 1)},
      {"no bias", 2, 3, 6, 6, 4, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1), false},
      {"batch 5", 5, 3, 6, 5, 4, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1)},
      {"large GEMM", 2, 16, 20, 20, 32, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1)},
      {"large GEMM groups 4", 3, 32, 12, 12, 64, 3, 3, params({2, 1}, {1, 1}, {1, 2}, 4)},
      {"pixel-major stride 2 dilation 2", 3, 16, 11, 9, 8, 3, 3, params({2, 1}, {2, 1}, {2, 2}, 1)},
      {"pixel-major 2x5 padding wider than kernel", 2, 20, 5, 6, 3, 2, 5, params({1, 1}, {3, 1}, {1, 1}, 1)},
      {"pixel-major no bias", 5, 24, 8, 8, 16, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1), false},
      {"padded column rows", 2, 3, 16, 32, 4, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1)},
      {"padded column rows groups 2", 2, 4, 32, 32, 4, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 2)},
      // Direct tiles (conv_direct.cpp): >= 16 input channels and output channels a multiple
      // of the vector width; rows shorter and longer than a tile, several vector blocks,
      // and geometries whose input gradient falls back to the pixel-major path (stride 2,
      // padding beyond (k - 1) * dilation, input channels not a multiple of 16).
      {"direct 32 to 32 rows of 10", 3, 32, 9, 10, 32, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1)},
      {"direct 48 to 64 stride 2", 2, 48, 11, 13, 64, 3, 3, params({2, 2}, {1, 1}, {1, 1}, 1)},
      {"direct 16 to 48 dilation 2", 2, 16, 9, 8, 48, 3, 3, params({1, 1}, {2, 2}, {2, 2}, 1)},
      {"direct 32 to 16 2x5 padding 0x1", 2, 32, 6, 9, 16, 2, 5, params({1, 1}, {0, 1}, {1, 1}, 1), false},
      {"direct padding 3 beyond the kernel", 2, 16, 5, 6, 16, 3, 3, params({1, 1}, {3, 3}, {1, 1}, 1)},
      {"direct 24 to 32", 2, 24, 7, 7, 32, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1)},
      {"direct batch 5 to 80 stride 3x2", 5, 32, 7, 5, 80, 3, 3, params({3, 2}, {1, 1}, {1, 1}, 1)},
      {"direct wide rows 16 to 16", 1, 16, 4, 29, 16, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1), false},
      // Plane tiles: stride 1 and output rows a multiple of the vector width (8 or 16);
      // odd numbers of pixel vectors, output channels not a multiple of the tile's.
      {"direct planes rows of 16, 32 to 48", 2, 32, 5, 16, 48, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1)},
      {"direct planes rows of 32, 16 to 32", 3, 16, 3, 32, 32, 3, 3, params({1, 1}, {1, 1}, {1, 1}, 1), false},
      {"direct planes no padding", 2, 16, 6, 18, 32, 3, 3, params({1, 1}, {0, 0}, {1, 1}, 1)},
      {"direct planes dilation 2 padding 2", 2, 32, 7, 16, 16, 3, 3, params({1, 1}, {2, 2}, {2, 2}, 1)},
  };
}

int64_t reference_out_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) {
  return (in + 2 * pad - d * (k - 1) - 1) / s + 1;
}

// Direct seven-loop convolution in double precision.
Tensor reference_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), KH = w.size(2), KW = w.size(3), Og = O / p.groups;
  const int64_t OH = reference_out_size(H, KH, p.stride[0], p.padding[0], p.dilation[0]);
  const int64_t OW = reference_out_size(W, KW, p.stride[1], p.padding[1], p.dilation[1]);
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const auto bv = b.defined() ? b.to_vector<double>() : std::vector<double>(O, 0.0);
  std::vector<float> out(N * O * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = bv[o];
          for (int64_t cg = 0; cg < Cg; ++cg) {
            const int64_t c = (o / Og) * Cg + cg;
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
                const int64_t iw = ow * p.stride[1] - p.padding[1] + j * p.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += xv[((n * C + c) * H + ih) * W + iw] * wv[((o * Cg + cg) * KH + i) * KW + j];
              }
          }
          out[((n * O + o) * OH + oh) * OW + ow] = float(acc);
        }
  return tensor(out, Shape{N, O, OH, OW});
}

// Direct-loop gradients of sum(conv2d(x, w) * g) with respect to x and w.
std::pair<Tensor, Tensor> reference_conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& g,
                                                    const Conv2dParams& p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), KH = w.size(2), KW = w.size(3), Og = O / p.groups;
  const int64_t OH = g.size(2), OW = g.size(3);
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), gv = g.to_vector<double>();
  std::vector<double> gx(xv.size(), 0.0), gw(wv.size(), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const double go = gv[((n * O + o) * OH + oh) * OW + ow];
          for (int64_t cg = 0; cg < Cg; ++cg) {
            const int64_t c = (o / Og) * Cg + cg;
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
                const int64_t iw = ow * p.stride[1] - p.padding[1] + j * p.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + c) * H + ih) * W + iw, wi = ((o * Cg + cg) * KH + i) * KW + j;
                gx[xi] += wv[wi] * go;
                gw[wi] += xv[xi] * go;
              }
          }
        }
  return {tensor(std::vector<float>(gx.begin(), gx.end()), x.shape()),
          tensor(std::vector<float>(gw.begin(), gw.end()), w.shape())};
}

struct ConvInputs {
  Tensor x, w, b;
};

ConvInputs make_inputs(const ConvCase& k, uint64_t seed, bool requires_grad = false) {
  Generator gen(seed);
  ConvInputs in;
  in.x = uniform({k.n, k.c, k.h, k.w}, -1, 1, {}, &gen);
  in.w = uniform({k.out_channels, k.c / k.p.groups, k.kh, k.kw}, -1, 1, {}, &gen);
  if (k.bias) in.b = uniform({k.out_channels}, -1, 1, {}, &gen);
  if (requires_grad) {
    in.x.requires_grad_(true);
    in.w.requires_grad_(true);
    if (k.bias) in.b.requires_grad_(true);
  }
  return in;
}

// Runs every forward and backward case against the references; "" when all agree.
std::string check_cases_against_reference() {
  uint64_t seed = 100;
  for (const ConvCase& k : forward_cases()) {
    ConvInputs in = make_inputs(k, ++seed, /*requires_grad=*/true);
    Tensor out = conv2d(in.x, in.w, in.b, k.p);
    std::string msg = testing::compare(out, reference_conv2d(in.x, in.w, in.b, k.p), 1e-4, 1e-4);
    if (!msg.empty()) return std::string(k.name) + " forward: " + msg;

    Generator gen(seed * 7);
    Tensor g = uniform(out.shape(), -1, 1, {}, &gen);
    sum(mul(out, g)).backward();
    auto [gx, gw] = reference_conv2d_backward(in.x, in.w, g, k.p);
    if (!(msg = testing::compare(in.x.grad(), gx, 1e-4, 1e-4)).empty()) return std::string(k.name) + " grad x: " + msg;
    if (!(msg = testing::compare(in.w.grad(), gw, 1e-4, 1e-4)).empty()) return std::string(k.name) + " grad w: " + msg;
    if (k.bias) {
      Tensor gb = sum(g, {0, 2, 3});
      if (!(msg = testing::compare(in.b.grad(), gb, 1e-4, 1e-4)).empty())
        return std::string(k.name) + " grad bias: " + msg;
    }
  }
  return {};
}

Tensor leaf(const Shape& shape, uint64_t seed) { return testing::param(shape, -1, 1, seed); }

}  // namespace

class ConvTest : public QObject {
  Q_OBJECT

 private slots:
  void output_shape_follows_stride_padding_dilation() {
    Tensor x = zeros({2, 3, 11, 9});
    Tensor w = zeros({4, 3, 3, 2});
    const Shape strided = conv2d(x, w, Tensor(), params({2, 3}, {1, 0}, {2, 1}, 1)).shape();
    QVERIFY2(strided == (Shape{2, 4, 5, 3}), strided.str().c_str());
    const Shape plain = conv2d(x, w, Tensor()).shape();
    QVERIFY2(plain == (Shape{2, 4, 9, 8}), plain.str().c_str());
  }

  void known_values_of_a_small_convolution() {
    // 1x1x3x3 input 1..9, 2x2 kernel of ones, padding 1: each output sums its window.
    Tensor x = tensor({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
    Tensor w = ones({1, 1, 2, 2});
    Tensor b = tensor({0.5f}, {1});
    Tensor out = conv2d(x, w, b, params({2, 2}, {1, 1}, {1, 1}, 1));
    NL_EXPECT_CLOSE(out, tensor({1.5f, 5.5f, 11.5f, 28.5f}, {1, 1, 2, 2}), 0, 1e-6);
  }

  // Forward and both gradients against the direct loops on 1, 2 and 3 threads: one thread
  // runs images in turn; more threads split the batch where GEMMs are small (3 threads
  // over a batch of 3 or 5 gives uneven shares) and let OpenBLAS thread the large ones.
  void forward_and_backward_match_reference_on_1_2_3_threads() {
    const int previous = num_threads();
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      const std::string msg = check_cases_against_reference();
      set_num_threads(previous);
      QVERIFY2(msg.empty(), (std::to_string(threads) + " threads: " + msg).c_str());
    }
  }

  // The same cases with the direct tiles switched off (GEMM paths only) and limited to
  // each instruction set this CPU has, so that every tile set is checked on a machine that
  // would otherwise pick only its widest.
  void each_direct_tile_set_and_the_gemm_paths_match_reference() {
    const int previous = num_threads();
    const std::pair<const char*, cpu::DirectConvIsa> sets[] = {{"gemm only", cpu::DirectConvIsa::Off},
                                                               {"avx2", cpu::DirectConvIsa::Avx2},
                                                               {"avx512", cpu::DirectConvIsa::Avx512}};
    for (const auto& [name, isa] : sets) {
#if defined(__GNUC__) && defined(__x86_64__)
      if (isa == cpu::DirectConvIsa::Avx2 && !__builtin_cpu_supports("avx2")) continue;
      if (isa == cpu::DirectConvIsa::Avx512 && !__builtin_cpu_supports("avx512f")) continue;
#endif
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        const cpu::DirectConvIsa before = cpu::set_direct_conv_isa(isa);
        const std::string msg = check_cases_against_reference();
        cpu::set_direct_conv_isa(before);
        set_num_threads(previous);
        QVERIFY2(msg.empty(), (std::string(name) + ", " + std::to_string(threads) + " threads: " + msg).c_str());
      }
    }
  }

  void gradcheck_direct_tiles() {
    Tensor x = leaf({2, 16, 5, 4}, 51), w = leaf({16, 16, 3, 3}, 52), b = leaf({16}, 53);
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], params({1, 1}, {1, 1}, {1, 1}, 1)); },
                 {x, w, b});
  }

  void unbatched_input_is_a_batch_of_one() {
    Tensor x = leaf({3, 6, 5}, 3), w = leaf({2, 3, 3, 3}, 4), b = leaf({2}, 5);
    Tensor out = conv2d(x, w, b, params({1, 1}, {1, 1}, {1, 1}, 1));
    QVERIFY2(out.shape() == (Shape{2, 6, 5}), out.shape().str().c_str());
    NL_EXPECT_CLOSE(out, reference_conv2d(x.unsqueeze(0), w, b, params({1, 1}, {1, 1}, {1, 1}, 1)).squeeze(0),
                    1e-4, 1e-5);
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2]); }, {x, w, b});
  }

  void gradcheck_input_weight_and_bias() {
    const std::vector<std::pair<const char*, Conv2dParams>> configs = {
        {"stride 2 padding 1", params({2, 2}, {1, 1}, {1, 1}, 1)},
        {"dilation 2", params({1, 1}, {2, 1}, {2, 2}, 1)},
        {"groups 2", params({1, 2}, {1, 0}, {1, 1}, 2)},
    };
    uint64_t seed = 10;
    for (const auto& [name, p] : configs) {
      Tensor x = leaf({2, 4, 6, 5}, ++seed), w = leaf({4, 4 / p.groups, 3, 2}, ++seed), b = leaf({4}, ++seed);
      std::string msg = testing::gradcheck(
          [p = p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], p); }, {x, w, b});
      QVERIFY2(msg.empty(), (std::string(name) + ": " + msg).c_str());
    }
  }

  void gradcheck_depthwise_and_pointwise() {
    Tensor x = leaf({2, 3, 5, 5}, 21), dw = leaf({3, 1, 3, 3}, 22), db = leaf({3}, 23);
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], params({1, 1}, {1, 1}, {1, 1}, 3)); },
                 {x, dw, db});
    Tensor dw2 = leaf({6, 1, 2, 3}, 26);  // channel multiplier 2, strided and dilated
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), params({2, 1}, {1, 1}, {1, 2}, 3)); },
                 {x, dw2});
    Tensor pw = leaf({4, 3, 1, 1}, 24), pb = leaf({4}, 25);
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2]); }, {x, pw, pb});
  }

  // The leaf is stored NHWC; conv2d receives a permuted, non-contiguous NCHW view and
  // the gradient must come back through the view. The weight is a transposed view too.
  void gradcheck_non_contiguous_inputs() {
    Tensor x_nhwc = leaf({2, 5, 4, 3}, 31);  // N, H, W, C
    Tensor w_t = leaf({2, 3, 3, 3}, 32);     // O, C, kW, kH: transposed below
    Tensor b = leaf({2}, 33);
    NL_GRADCHECK(
        [](const std::vector<Tensor>& in) {
          Tensor x = in[0].permute({0, 3, 1, 2});
          Tensor w = in[1].transpose(2, 3);
          return conv2d(x, w, in[2], params({1, 1}, {1, 1}, {1, 1}, 1));
        },
        {x_nhwc, w_t, b});
  }

  void only_inputs_that_require_grad_get_gradients() {
    Tensor x = leaf({1, 2, 4, 4}, 41);
    Tensor w = uniform({3, 2, 3, 3}, -1, 1);
    Tensor b = uniform({3}, -1, 1);
    Tensor out = conv2d(x, w, b);
    QVERIFY(out.requires_grad());
    sum(out).backward();
    QVERIFY(x.grad().defined());
    QVERIFY(!w.grad().defined());
    QVERIFY(!b.grad().defined());

    Tensor no_grad_x = uniform({1, 2, 4, 4}, -1, 1);
    QVERIFY(!conv2d(no_grad_x, w, b).requires_grad());
    {
      NoGradGuard guard;
      QVERIFY(!conv2d(x, w, b).requires_grad());
    }
  }

  void errors_name_the_bad_argument() {
    const Tensor x = zeros({1, 6, 5, 5});
    auto expect = [](const std::string& msg, std::initializer_list<const char*> words) {
      QVERIFY2(!msg.empty(), "no error was raised");
      QVERIFY2(msg.rfind("conv2d:", 0) == 0, msg.c_str());
      for (const char* word : words) QVERIFY2(msg.find(word) != std::string::npos, (msg + " lacks: " + word).c_str());
    };
    expect(testing::error_of([&] { conv2d(x, zeros({4, 3, 3, 3}), Tensor(), params({1, 1}, {0, 0}, {1, 1}, 4)); }),
           {"groups", "divisible", "[1, 6, 5, 5]"});
    expect(testing::error_of([&] { conv2d(x, zeros({3, 3, 3, 3}), Tensor(), params({1, 1}, {0, 0}, {1, 1}, 2)); }),
           {"output channels", "groups"});
    expect(testing::error_of([&] { conv2d(x, zeros({8, 4, 3, 3}), Tensor()); }),
           {"weight [8, 4, 3, 3]", "input channels", "6"});
    expect(testing::error_of([&] { conv2d(zeros({1, 6, 2, 2}), zeros({4, 6, 3, 3}), Tensor()); }), {"output size"});
    expect(testing::error_of([&] { conv2d(zeros({1, 6, 5, 5}), zeros({4, 6, 3, 3}), Tensor(), params({1, 1}, {0, 0}, {3, 3}, 1)); }),
           {"output size", "dilat"});
    expect(testing::error_of([&] { conv2d(zeros({1, 6, 5, 5}, {.dtype = DType::Int64}), zeros({4, 6, 3, 3}), Tensor()); }),
           {"input", "float32", "int64"});
    expect(testing::error_of([&] { conv2d(x, zeros({4, 6, 3, 3}, {.dtype = DType::Float64}), Tensor()); }),
           {"weight", "float32"});
    expect(testing::error_of([&] { conv2d(zeros({6, 5}), zeros({4, 6, 3, 3}), Tensor()); }), {"4-D", "[6, 5]"});
    expect(testing::error_of([&] { conv2d(x, zeros({4, 6, 3}), Tensor()); }), {"weight", "4-D"});
    expect(testing::error_of([&] { conv2d(x, zeros({4, 6, 3, 3}), zeros({5})); }), {"bias", "[5]"});
    expect(testing::error_of([&] { conv2d(x, zeros({4, 6, 3, 3}), Tensor(), params({0, 1}, {0, 0}, {1, 1}, 1)); }),
           {"stride"});
    expect(testing::error_of([&] { conv2d(x, zeros({4, 6, 3, 3}), Tensor(), params({1, 1}, {-1, 0}, {1, 1}, 1)); }),
           {"padding"});
    expect(testing::error_of([&] { conv2d(x, zeros({4, 6, 3, 3}), Tensor(), params({1, 1}, {0, 0}, {1, 0}, 1)); }),
           {"dilation"});
    expect(testing::error_of([&] { conv2d(x, zeros({4, 6, 3, 3}), Tensor(), params({1, 1}, {0, 0}, {1, 1}, 0)); }),
           {"groups"});
  }
};

QTEST_APPLESS_MAIN(ConvTest)
#include "test_conv.moc"
