// GPU parity tests of layer normalisation (engine/backends/cuda/layer_norm.cu), embedding /
// gather / scatter-add (indexing.cu) and max / average pooling (pool.cu): the ops-level
// functions and the nn layers (LayerNorm, Embedding, MaxPool2d, AvgPool2d), forward and
// backward including parameter gradients, over shapes that reach every kernel path, edge
// values (ties, NaN, -inf, windows in the padding) and the error cases, each compared with
// the CPU backend, plus a few exact expectations.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/core/generator.h"
#include "engine/nn/embedding.h"
#include "engine/nn/init.h"
#include "engine/nn/norm.h"
#include "engine/nn/pool.h"
#include "engine/ops/ops.h"
#include "tests/gpu/gpu_testing.h"

namespace nl {
namespace {

using gpu_test::expect_close;

using gpu_test::check_parity;
using gpu_test::same_error;
using gpu_test::compare;
using gpu_test::Failure;
using gpu_test::random_input;
using gpu_test::Tolerance;

const Device kCuda = Device::cuda(0);
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Builds the layer twice (make() must be deterministic), runs one copy on the CPU and one
// on cuda:0 and compares the output, the input gradient (when `input_grad`) and the
// gradient of every parameter, for the loss sum(output * w) with a fixed random w.
void check_module(const std::string& what, const std::function<std::shared_ptr<nn::Module>()>& make,
                  const Tensor& input, bool input_grad, Tolerance tol = {}) {
  auto cpu = make();
  auto gpu = make();
  gpu->to(kCuda);
  Tensor xc = input.detach().clone();
  Tensor xg = input.detach().to(kCuda);
  if (input_grad) {
    xc.requires_grad_(true);
    xg.requires_grad_(true);
  }
  Tensor yc = cpu->forward(xc);
  Tensor yg;
  try {
    yg = gpu->forward(xg);
  } catch (const std::exception& e) {
    throw Failure(what + ": the CUDA run threw: " + e.what());
  }
  NL_GPU_CHECK(yg.device() == kCuda, what, ": output on ", yg.device().str());
  expect_close(what + " forward", yg, yc, tol.rtol, tol.atol);
  Tensor w = random_input(yc.shape(), 0xBEEF, false);
  sum(mul(yc, w)).backward();
  sum(mul(yg, w.to(kCuda))).backward();
  if (input_grad) expect_close(what + " input gradient", xg.grad(), xc.grad(), tol.grad_rtol, tol.grad_atol);
  const auto pc = cpu->named_parameters();
  const auto pg = gpu->named_parameters();
  NL_GPU_CHECK(pc.size() == pg.size(), what);
  for (size_t i = 0; i < pc.size(); ++i) {
    const Tensor gc = pc[i].second.grad(), gg = pg[i].second.grad();
    NL_GPU_CHECK(gc.defined() == gg.defined(), what, ": gradient of ", pc[i].first, " on one device only");
    if (!gc.defined()) continue;
    NL_GPU_CHECK(gg.device() == kCuda, what, ": gradient of ", pc[i].first, " on ", gg.device().str());
    expect_close(what + " gradient of " + pc[i].first, gg, gc, tol.grad_rtol, tol.grad_atol);
  }
}

Tensor index_input(const Shape& shape, int64_t limit, uint64_t seed) {
  return floor(random_input(shape, seed, false, 0, static_cast<double>(limit))).to(DType::Int64);
}

// ---- layer_norm ----

NL_GPU_TEST(layer_norm_shapes_and_affine_variants) {
  struct Case {
    Shape shape;
    std::vector<int64_t> norm;
    bool weight, bias;
  };
  // Warp rows (d <= 1024), 256-thread rows, 512-thread rows (d >= 8192), many rows (the
  // parameter gradients split over blocks), one row, size-1 dims.
  const std::vector<Case> cases = {
      {{4, 8}, {8}, true, true},          {{3, 5, 7}, {5, 7}, true, true},   {{6, 1500}, {1500}, true, false},
      {{3, 8193}, {8193}, false, true},   {{37, 33}, {33}, false, false},    {{20000, 16}, {16}, true, true},
      {{1, 3}, {3}, true, true},          {{5, 1, 1}, {1}, true, true},      {{2, 3, 1024}, {1024}, true, true},
      {{2, 3, 1025}, {1025}, true, true}, {{700, 300}, {300}, true, true},
  };
  for (const Case& c : cases) {
    const std::string what = "layer_norm " + c.shape.str() + " w" + std::to_string(c.weight) + " b" +
                             std::to_string(c.bias);
    const Shape ns(c.norm);
    // An absent weight or bias is passed as an undefined tensor; the placeholder input in
    // its slot does not require grad, so check_parity ignores it.
    const std::vector<Tensor> inputs = {random_input(c.shape, 200, true, -2, 3),
                                        c.weight ? random_input(ns, 201) : zeros({1}),
                                        c.bias ? random_input(ns, 202) : zeros({1})};
    // The parameter gradients of many rows are long column sums.
    const Tolerance tol = c.shape[0] >= 700 ? Tolerance{.grad_rtol = 1e-3, .grad_atol = 1e-3} : Tolerance{};
    check_parity(what, inputs,
                 [&c](const std::vector<Tensor>& in) {
                   return layer_norm(in[0], c.norm, c.weight ? in[1] : Tensor(), c.bias ? in[2] : Tensor(), 1e-5);
                 },
                 tol);
  }
}

NL_GPU_TEST(layer_norm_partial_gradients_and_edge_values) {
  // Only the parameters want gradients (grad_x undefined), or only the input.
  const Tensor x = random_input({9, 40}, 210, false);
  check_parity("layer_norm grads of w and b only", {x, random_input({40}, 211), random_input({40}, 212)},
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], {40}, in[1], in[2]); });
  check_parity("layer_norm grad of x only", {random_input({9, 40}, 213), random_input({40}, 214, false)},
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], {40}, in[1]); });
  check_parity("layer_norm grad of the bias only", {x, random_input({40}, 215, false), random_input({40}, 216)},
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], {40}, in[1], in[2]); });
  // Constant rows (variance 0: the output is the bias), a large eps, rows far from zero.
  check_parity("layer_norm constant rows", {full({4, 16}, 3.0, {.requires_grad = true}), random_input({16}, 217)},
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], {16}, Tensor(), in[1]); });
  check_parity("layer_norm eps 1", {random_input({4, 16}, 218)},
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], {16}, Tensor(), Tensor(), 1.0); });
  check_parity("layer_norm offset rows", {add(mul(random_input({8, 64}, 219, false), 0.01), 1000.0)},
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], {64}); }, {.rtol = 1e-3, .atol = 1e-3});
  // No rows: empty output, zero parameter gradients.
  check_parity("layer_norm [0, 8]", {random_input({0, 8}, 220), random_input({8}, 221), random_input({8}, 222)},
               [](const std::vector<Tensor>& in) { return layer_norm(in[0], {8}, in[1], in[2]); });
  // Exact: [1, 2, 3] normalises to [-1.2247, 0, 1.2247].
  Tensor y = layer_norm(tensor({1, 2, 3}, {1, 3}).to(kCuda), {3}, Tensor(), Tensor(), 0.0);
  expect_close("layer_norm exact", y, tensor({-1.2247449f, 0, 1.2247449f}, {1, 3}), 1e-6, 1e-6);
}

NL_GPU_TEST(layer_norm_module) {
  auto make = [](int64_t d1, int64_t d2) {
    return [=]() -> std::shared_ptr<nn::Module> {
      auto m = std::make_shared<nn::LayerNorm>(std::vector<int64_t>{d1, d2});
      Generator gen(77);
      nn::init::uniform_(m->weight, 0.5, 1.5, &gen);
      nn::init::uniform_(m->bias, -0.5, 0.5, &gen);
      return m;
    };
  };
  check_module("LayerNorm [6, 10]", make(6, 10), random_input({3, 5, 6, 10}, 230), true);
  check_module("LayerNorm [4, 400]", make(4, 400), random_input({7, 4, 400}, 231), true);
  check_module("LayerNorm without affine",
               [] { return std::make_shared<nn::LayerNorm>(std::vector<int64_t>{12}, 1e-5, false); },
               random_input({5, 12}, 232), true);
}

NL_GPU_TEST(layer_norm_errors) {
  same_error("layer_norm float64", [](Device d) {
    layer_norm(zeros({2, 3}, {.dtype = DType::Float64, .device = d}), {3});
  });
  same_error("layer_norm shape mismatch", [](Device d) { layer_norm(zeros({2, 3}, {.device = d}), {4}); });
  same_error("layer_norm weight shape", [](Device d) {
    layer_norm(zeros({2, 3}, {.device = d}), {3}, zeros({4}, {.device = d}));
  });
}

// ---- embedding / index_select ----

NL_GPU_TEST(embedding_widths_repeats_and_shapes) {
  struct Case {
    int64_t rows, width;
    Shape idx_shape;
  };
  for (const Case& c : std::vector<Case>{{10, 16, {3, 5}},
                                         {10, 1, {7}},
                                         {50, 33, {4, 6, 2}},
                                         {20, 300, {9}},
                                         {5000, 64, {64, 128}},
                                         {7, 5, {}},
                                         {7, 5, {0}}}) {
    // Indices drawn from a small range, so rows repeat and their gradients accumulate.
    const Tensor idx = index_input(c.idx_shape, std::min<int64_t>(c.rows, 50), 240 + c.width);
    check_parity("embedding " + std::to_string(c.rows) + "x" + std::to_string(c.width) + " idx " + c.idx_shape.str(),
                 {random_input({c.rows, c.width}, 241), idx},
                 [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); });
  }
  // Heavy contention: every lookup hits one of 3 rows.
  check_parity("embedding contention", {random_input({10, 128}, 242), index_input({20000}, 3, 243)},
               [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); },
               {.grad_rtol = 1e-3, .grad_atol = 1e-3});
  // index_select is embedding on a transposed table.
  for (int d = 0; d < 3; ++d)
    check_parity("index_select dim " + std::to_string(d), {random_input({4, 5, 6}, 244), index_input({7}, 4, 245)},
                 [d](const std::vector<Tensor>& in) { return index_select(in[0], d, in[1]); });
  // Exact: rows picked and their gradient counts.
  Tensor w = tensor({0, 1, 10, 11, 20, 21}, {3, 2}).to(kCuda);
  w.requires_grad_(true);
  Tensor out = embedding(w, tensor(std::vector<int64_t>{2, 0, 2}, {3}).to(kCuda));
  expect_close("embedding exact", out, tensor({20, 21, 0, 1, 20, 21}, {3, 2}), 0, 0);
  sum(out).backward();
  expect_close("embedding gradient counts", w.grad(), tensor({1, 1, 0, 0, 2, 2}, {3, 2}), 0, 0);
}

NL_GPU_TEST(embedding_module) {
  check_module("Embedding(30, 12)", [] { Generator gen(5); return std::make_shared<nn::Embedding>(30, 12, std::nullopt, &gen); },
               index_input({4, 9}, 30, 250), false);
  check_module("Embedding with padding_idx",
               [] { Generator gen(6); return std::make_shared<nn::Embedding>(30, 12, 2, &gen); },
               tensor(std::vector<int64_t>{2, 5, 2, 29, 0, 2}, {2, 3}), false);
}

NL_GPU_TEST(embedding_errors) {
  // Out-of-range indices: the CPU's message, naming the first bad one.
  same_error("embedding index too large", [](Device d) {
    embedding(zeros({10, 4}, {.device = d}), tensor(std::vector<int64_t>{1, 10, 3}, {3}).to(d));
  });
  same_error("embedding negative index", [](Device d) {
    embedding(zeros({10, 4}, {.device = d}), tensor(std::vector<int64_t>{1, 2, -1, -5}, {2, 2}).to(d));
  });
  same_error("embedding first bad of many", [](Device d) {
    std::vector<int64_t> idx(300000, 3);
    idx[123457] = 1000;
    idx[250000] = -1;
    embedding(zeros({10, 4}, {.device = d}), tensor(idx, {300000}).to(d));
  });
  same_error("embedding_backward bad index", [](Device d) {
    Tensor g = ones({3, 4}, {.device = d});
    Tensor idx = tensor(std::vector<int64_t>{0, 4, 11}, {3}).to(d);
    Tensor gw = zeros({10, 4}, {.device = d});
    backend_for(d).embedding_backward(g, idx, gw);
  });
  same_error("index_select out of range", [](Device d) {
    index_select(zeros({4, 5}, {.device = d}), 1, tensor(std::vector<int64_t>{0, 5}, {2}).to(d));
  });
  same_error("embedding float64", [](Device d) {
    embedding(zeros({4, 2}, {.dtype = DType::Float64, .device = d}), zeros({2}, {.dtype = DType::Int64, .device = d}));
  });
  same_error("embedding int32 indices", [](Device d) {
    embedding(zeros({4, 2}, {.device = d}), zeros({2}, {.dtype = DType::Int32, .device = d}));
  });
  // After a refused call the device still works (nothing sticky left behind).
  Tensor ok = embedding(ones({3, 2}, {.device = kCuda}), tensor(std::vector<int64_t>{2}, {1}).to(kCuda));
  expect_close("embedding after an error", ok, ones({1, 2}), 0, 0);
}

// ---- gather / scatter_add ----

NL_GPU_TEST(gather_dims_and_gradients) {
  const Tensor x = random_input({4, 5, 6}, 260);
  struct Case {
    int dim;
    Shape idx_shape;
  };
  for (const Case& c : std::vector<Case>{{0, {4, 5, 6}}, {0, {9, 2, 3}}, {1, {4, 11, 6}}, {1, {2, 3, 1}},
                                         {2, {4, 5, 17}}, {2, {3, 5, 1}}, {-1, {1, 1, 4}}}) {
    const int wrapped = c.dim < 0 ? c.dim + 3 : c.dim;
    // Few distinct values along dim, so the scatter-add gradient accumulates repeats.
    const Tensor idx = index_input(c.idx_shape, x.size(wrapped), 261 + wrapped);
    check_parity("gather dim " + std::to_string(c.dim) + " idx " + c.idx_shape.str(), {x, idx},
                 [&c](const std::vector<Tensor>& in) { return gather(in[0], c.dim, in[1]); });
  }
  check_parity("gather 1-D", {random_input({100}, 262), index_input({1000}, 100, 263)},
               [](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); });
  check_parity("gather large", {random_input({64, 1000}, 264), index_input({64, 3000}, 1000, 265)},
               [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); });
  check_parity("gather of a transposed input", {random_input({6, 8}, 266), index_input({8, 3}, 6, 267)},
               [](const std::vector<Tensor>& in) { return gather(in[0].t(), 1, in[1]); });
  check_parity("gather empty index", {random_input({4, 5}, 268), index_input({4, 0}, 5, 269)},
               [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); });
  // Exact: torch.gather's example.
  Tensor g = gather(tensor({1, 2, 3, 4}, {2, 2}).to(kCuda), 1, tensor(std::vector<int64_t>{0, 0, 1, 0}, {2, 2}).to(kCuda));
  expect_close("gather exact", g, tensor({1, 1, 4, 3}, {2, 2}), 0, 0);
}

NL_GPU_TEST(gather_scatter_errors) {
  same_error("gather index too large", [](Device d) {
    gather(zeros({3, 4}, {.device = d}), 1, tensor(std::vector<int64_t>{0, 1, 4, 2, 3, 3}, {3, 2}).to(d));
  });
  same_error("gather negative index", [](Device d) {
    gather(zeros({3, 4}, {.device = d}), 0, tensor(std::vector<int64_t>{0, -1, 2, 2}, {1, 4}).to(d));
  });
  same_error("gather index shape too large", [](Device d) {
    gather(zeros({3, 4}, {.device = d}), 0, zeros({2, 5}, {.dtype = DType::Int64, .device = d}));
  });
  same_error("scatter_add bad index", [](Device d) {
    Tensor g = ones({2, 2}, {.device = d});
    Tensor idx = tensor(std::vector<int64_t>{0, 1, 1, 7}, {2, 2}).to(d);
    Tensor gx = zeros({2, 3}, {.device = d});
    backend_for(d).scatter_add(g, 1, idx, gx);
  });
}

// ---- max_pool2d / avg_pool2d ----

Pool2dParams pool_params(std::array<int64_t, 2> k, std::array<int64_t, 2> s, std::array<int64_t, 2> p,
                         std::array<int64_t, 2> dil = {1, 1}, bool ceil_mode = false, bool count_include_pad = true) {
  Pool2dParams q;
  for (int i = 0; i < 2; ++i) {
    q.kernel[i] = k[i];
    q.stride[i] = s[i];
    q.padding[i] = p[i];
    q.dilation[i] = dil[i];
  }
  q.ceil_mode = ceil_mode;
  q.count_include_pad = count_include_pad;
  return q;
}

struct PoolCase {
  const char* name;
  Shape shape;
  Pool2dParams p;
};

std::vector<PoolCase> max_pool_cases() {
  return {
      {"k2 s2", {2, 3, 8, 8}, pool_params({2, 2}, {2, 2}, {0, 0})},
      {"k3 s2 p1", {2, 3, 9, 11}, pool_params({3, 3}, {2, 2}, {1, 1})},
      {"k3 s1 p1 dilation 2", {1, 2, 10, 10}, pool_params({3, 3}, {1, 1}, {1, 1}, {2, 2})},
      {"k2 s2 ceil", {1, 2, 7, 7}, pool_params({2, 2}, {2, 2}, {0, 0}, {1, 1}, true)},
      {"k3x2 s2x1 p1x0 ceil", {2, 2, 9, 6}, pool_params({3, 2}, {2, 1}, {1, 0}, {1, 1}, true)},
      {"k3 s3 p1 ceil dilation 1x2", {1, 3, 10, 13}, pool_params({3, 3}, {3, 3}, {1, 1}, {1, 2}, true)},
      {"k1 s1", {2, 2, 5, 5}, pool_params({1, 1}, {1, 1}, {0, 0})},
      {"k5 whole plane", {3, 4, 5, 5}, pool_params({5, 5}, {1, 1}, {0, 0})},
      {"large k3 s2 p1", {8, 16, 64, 64}, pool_params({3, 3}, {2, 2}, {1, 1})},
  };
}

NL_GPU_TEST(max_pool2d_parameters) {
  for (const PoolCase& c : max_pool_cases()) {
    // Overlapping windows (stride < kernel) send several gradients to one winner.
    check_parity(std::string("max_pool2d ") + c.name, {random_input(c.shape, 270)},
                 [&c](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.p); });
  }
  check_parity("max_pool2d unbatched [3, 10, 10]", {random_input({3, 10, 10}, 271)},
               [](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool_params({2, 2}, {2, 2}, {0, 0})); });
  check_parity("max_pool2d of a permuted input", {random_input({2, 9, 9, 3}, 272)},
               [](const std::vector<Tensor>& in) {
                 return max_pool2d(in[0].permute({0, 3, 1, 2}), pool_params({3, 3}, {2, 2}, {1, 1}));
               });
}

NL_GPU_TEST(max_pool2d_ties_nan_inf_and_padding_windows) {
  // Ties: the first tap of the window wins (visible in where the gradient lands).
  check_parity("max_pool2d constant input", {full({2, 2, 6, 6}, 1.5, {.requires_grad = true})},
               [](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool_params({3, 3}, {1, 1}, {1, 1})); });
  check_parity("max_pool2d rounded input", {round(random_input({2, 3, 12, 12}, 280, false, -1, 1))},
               [](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool_params({3, 3}, {2, 2}, {1, 1})); });
  Tensor tied = round(random_input({2, 3, 12, 12}, 281, false, -1, 1));
  tied.requires_grad_(true);
  check_parity("max_pool2d ties with gradient", {tied},
               [](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool_params({2, 2}, {1, 1}, {0, 0})); });
  // NaN wins its window (the last NaN, by the CPU's rule); -inf inputs are ordinary values.
  std::vector<float> v(2 * 8 * 8);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 11) - 5;
  v[3] = kNaN;
  v[12] = kNaN;
  v[13] = kNaN;
  v[70] = -kInf;
  v[71] = -kInf;
  v[78] = -kInf;
  v[79] = -kInf;
  Tensor x = tensor(v, {1, 2, 8, 8});
  x.requires_grad_(true);
  check_parity("max_pool2d nan and -inf", {x},
               [](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool_params({3, 3}, {2, 2}, {1, 1})); });
  // Windows lying wholly in the padding (only with dilation): -inf, and no gradient.
  check_parity("max_pool2d windows in the padding", {random_input({1, 2, 1, 1}, 282)},
               [](const std::vector<Tensor>& in) {
                 return max_pool2d(in[0], pool_params({2, 2}, {1, 1}, {2, 2}, {3, 3}));
               });
  // Exact: in [[1, 2], [2, 1]] the first 2 (flat index 1) wins and takes the gradient.
  Tensor e = tensor({1, 2, 2, 1}, {1, 1, 2, 2}).to(kCuda);
  e.requires_grad_(true);
  Tensor y = max_pool2d(e, pool_params({2, 2}, {2, 2}, {0, 0}));
  expect_close("max_pool2d exact", y, tensor({2}, {1, 1, 1, 1}), 0, 0);
  sum(y).backward();
  expect_close("max_pool2d tie gradient", e.grad(), tensor({0, 1, 0, 0}, {1, 1, 2, 2}), 0, 0);
}

NL_GPU_TEST(avg_pool2d_parameters) {
  const std::vector<PoolCase> cases = {
      {"k2 s2", {2, 3, 8, 8}, pool_params({2, 2}, {2, 2}, {0, 0})},
      {"k3 s2 p1 include pad", {2, 3, 9, 11}, pool_params({3, 3}, {2, 2}, {1, 1})},
      {"k3 s2 p1 exclude pad", {2, 3, 9, 11}, pool_params({3, 3}, {2, 2}, {1, 1}, {1, 1}, false, false)},
      {"k3 s2 p1 ceil include pad", {1, 2, 8, 8}, pool_params({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, true)},
      {"k3 s2 p1 ceil exclude pad", {1, 2, 8, 8}, pool_params({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, false)},
      {"k2 s2 ceil odd", {1, 2, 7, 7}, pool_params({2, 2}, {2, 2}, {0, 0}, {1, 1}, true)},
      {"k3x2 s1x2 p1x1", {2, 2, 6, 9}, pool_params({3, 2}, {1, 2}, {1, 1})},
      {"k4 s3 p2 ceil exclude pad", {1, 1, 10, 10}, pool_params({4, 4}, {3, 3}, {2, 2}, {1, 1}, true, false)},
      {"k5 whole plane", {3, 4, 5, 5}, pool_params({5, 5}, {1, 1}, {0, 0})},
      {"large k3 s1 p1", {8, 16, 64, 64}, pool_params({3, 3}, {1, 1}, {1, 1})},
  };
  for (const PoolCase& c : cases)
    check_parity(std::string("avg_pool2d ") + c.name, {random_input(c.shape, 290)},
                 [&c](const std::vector<Tensor>& in) { return avg_pool2d(in[0], c.p); });
  check_parity("avg_pool2d unbatched", {random_input({3, 6, 6}, 291)},
               [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], pool_params({2, 2}, {2, 2}, {0, 0})); });
  // Exact: corner window of a 3x3 ones plane with padding 1, counted with and without pad.
  Tensor ones3 = ones({1, 1, 3, 3}, {.device = kCuda});
  Tensor with_pad = avg_pool2d(ones3, pool_params({3, 3}, {2, 2}, {1, 1}));
  Tensor without_pad = avg_pool2d(ones3, pool_params({3, 3}, {2, 2}, {1, 1}, {1, 1}, false, false));
  expect_close("avg_pool2d include pad", with_pad, full({1, 1, 2, 2}, 4.0 / 9.0), 1e-6, 0);
  expect_close("avg_pool2d exclude pad", without_pad, ones({1, 1, 2, 2}), 1e-6, 0);
}

NL_GPU_TEST(pool_modules) {
  check_module("MaxPool2d(3, 2, 1)", [] { return std::make_shared<nn::MaxPool2d>(3, 2, 1); },
               random_input({4, 8, 15, 15}, 300), true);
  check_module("MaxPool2d(2)", [] { return std::make_shared<nn::MaxPool2d>(2); }, random_input({2, 3, 9, 9}, 301),
               true);
  check_module("AvgPool2d(2)", [] { return std::make_shared<nn::AvgPool2d>(2); }, random_input({4, 8, 16, 16}, 302),
               true);
  check_module("AvgPool2d(3, 1, 1)", [] { return std::make_shared<nn::AvgPool2d>(3, 1, 1); },
               random_input({2, 3, 7, 7}, 303), true);
}

NL_GPU_TEST(pool_errors) {
  same_error("max_pool2d padding too large", [](Device d) {
    max_pool2d(zeros({1, 1, 6, 6}, {.device = d}), pool_params({2, 2}, {2, 2}, {2, 2}));
  });
  same_error("avg_pool2d dilation", [](Device d) {
    avg_pool2d(zeros({1, 1, 6, 6}, {.device = d}), pool_params({2, 2}, {2, 2}, {0, 0}, {2, 2}));
  });
  same_error("max_pool2d float64", [](Device d) {
    max_pool2d(zeros({1, 1, 6, 6}, {.dtype = DType::Float64, .device = d}), pool_params({2, 2}, {2, 2}, {0, 0}));
  });
  same_error("avg_pool2d kernel larger than the input", [](Device d) {
    avg_pool2d(zeros({1, 1, 2, 2}, {.device = d}), pool_params({3, 3}, {1, 1}, {0, 0}));
  });
  same_error("max_pool2d 2-D input", [](Device d) {
    max_pool2d(zeros({6, 6}, {.device = d}), pool_params({2, 2}, {2, 2}, {0, 0}));
  });
}

}  // namespace
}  // namespace nl
