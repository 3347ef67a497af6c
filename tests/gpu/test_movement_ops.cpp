// GPU parity of the movement ops no other file of tests/gpu covers: cat and stack (dims,
// empty parts, views, mixed dtypes, int64 and bool), sum_to (from expanded views too) and
// broadcast_view (compared after a copy, an add and a sum: it records no gradient).
#include <string>
#include <vector>

#include "engine/ops/op_utils.h"
#include "engine/ops/ops.h"
#include "tests/gpu/gpu_testing.h"

namespace nl {
namespace {

using gpu_test::check_parity;
using gpu_test::random_input;

// sum_to adds up to thousands of elements per output: other summation orders (as
// test_layers.cpp's kDeep).
const gpu_test::Tolerance kSums{1e-4, 1e-4, 1e-3, 1e-3};

NL_GPU_TEST(cat_op) {
  struct Case {
    int64_t dim;
    std::vector<Shape> shapes;
  };
  const std::vector<Case> cases = {
      {0, {{2, 3, 4}, {5, 3, 4}}},          {1, {{2, 3, 4}, {2, 1, 4}, {2, 6, 4}}},
      {2, {{2, 3, 4}, {2, 3, 7}}},          {-1, {{3, 1}, {3, 1}}},
      {0, {{4}, {9}, {1}}},                 {1, {{2, 0, 4}, {2, 3, 4}}},
      {0, {{0, 5}, {0, 5}}},                {1, {{64, 1000}, {64, 24}}},
  };
  uint64_t seed = 600;
  for (const Case& c : cases) {
    std::vector<Tensor> in;
    std::string name = "cat dim " + std::to_string(c.dim);
    for (const Shape& s : c.shapes) {
      in.push_back(random_input(s, seed++));
      name += " " + s.str();
    }
    check_parity(name, in, [d = c.dim](const std::vector<Tensor>& x) { return cat(x, d); });
  }
  // Views as inputs (transposed, strided), and an input that wants no gradient.
  check_parity("cat of views", {random_input({4, 3}, 620), random_input({3, 8}, 621), random_input({3, 2}, 622, false)},
               [](const std::vector<Tensor>& x) { return cat({x[0].t(), x[1].slice(1, 0, 8, 2), x[2]}, 1); });
  // Mixed dtypes promote (int64 with float32 is float32); integer-only cats stay integer.
  const Tensor ints = floor(random_input({3, 4}, 623, false, -10, 10)).to(DType::Int64);
  check_parity("cat float32 and int64", {random_input({2, 4}, 624), ints},
               [](const std::vector<Tensor>& x) { return cat(x, 0); });
  check_parity("cat int64", {ints, ints}, [](const std::vector<Tensor>& x) { return cat(x, 1); });
  check_parity("cat bool", {gt(random_input({2, 5}, 625, false), 0.0), gt(random_input({3, 5}, 626, false), 0.0)},
               [](const std::vector<Tensor>& x) { return cat(x, 0); });
}

NL_GPU_TEST(stack_op) {
  struct Case {
    int64_t dim;
    Shape shape;
    int count;
  };
  uint64_t seed = 640;
  for (const Case& c : std::vector<Case>{{0, {3, 4}, 2}, {1, {3, 4}, 3}, {2, {3, 4}, 2}, {-1, {2, 3, 5}, 4},
                                         {0, {}, 5}, {0, {0, 3}, 2}, {1, {16, 256}, 3}}) {
    std::vector<Tensor> in;
    for (int i = 0; i < c.count; ++i) in.push_back(random_input(c.shape, seed++));
    check_parity("stack dim " + std::to_string(c.dim) + " of " + std::to_string(c.count) + " " + c.shape.str(), in,
                 [d = c.dim](const std::vector<Tensor>& x) { return stack(x, d); });
  }
  check_parity("stack of views", {random_input({4, 3}, 660), random_input({3, 4}, 661)},
               [](const std::vector<Tensor>& x) { return stack({x[0].t(), x[1]}, 1); });
  const Tensor ints = floor(random_input({3, 4}, 662, false, -10, 10)).to(DType::Int64);
  check_parity("stack int64", {ints, ints}, [](const std::vector<Tensor>& x) { return stack(x, 0); });
}

NL_GPU_TEST(sum_to_op) {
  struct Case {
    Shape from, to;
  };
  uint64_t seed = 680;
  for (const Case& c : std::vector<Case>{{{4, 3, 5}, {3, 5}},
                                         {{4, 3, 5}, {1, 5}},
                                         {{4, 3, 5}, {3, 1}},
                                         {{4, 3, 5}, {5}},
                                         {{4, 3, 5}, {4, 1, 5}},
                                         {{4, 3, 5}, {1, 1, 1}},
                                         {{4, 3, 5}, {}},
                                         {{4, 3, 5}, {4, 3, 5}},
                                         {{2, 1, 7}, {1, 7}},
                                         {{64, 128, 32}, {128, 1}}}) {
    check_parity("sum_to " + c.from.str() + " -> " + c.to.str(), {random_input(c.from, seed++)},
                 [to = c.to](const std::vector<Tensor>& x) { return sum_to(x[0], to); }, kSums);
  }
  // From a broadcast (expanded, stride-0) view: what a binary op's backward hands it.
  check_parity("sum_to of an expanded view", {random_input({3, 1}, 700)},
               [](const std::vector<Tensor>& x) { return sum_to(x[0].expand({6, 3, 4}), {3, 4}); });
}

// broadcast_view is the raw (no autograd) stride-0 view the binary ops run their kernels on:
// its values are compared through a copy, a binary kernel and a reduction reading it.
NL_GPU_TEST(broadcast_view_op) {
  struct Case {
    Shape from, to;
  };
  uint64_t seed = 720;
  for (const Case& c : std::vector<Case>{{{3}, {4, 3}},
                                         {{4, 1}, {4, 5}},
                                         {{1, 3, 1}, {2, 3, 4}},
                                         {{}, {2, 3}},
                                         {{2, 3}, {2, 3}},
                                         {{5, 1, 7}, {2, 5, 6, 7}},
                                         {{1}, {0, 3}}}) {
    const std::string shapes = c.from.str() + " -> " + c.to.str();
    const Tensor x = random_input(c.from, seed++, false);
    const Tensor other = random_input(c.to, seed++, false);
    const Shape to = c.to;
    check_parity("broadcast_view " + shapes + " copied", {x},
                 [to](const std::vector<Tensor>& in) { return detail::broadcast_view(in[0], to).contiguous(); });
    check_parity("broadcast_view " + shapes + " added", {x, other},
                 [to](const std::vector<Tensor>& in) { return add(detail::broadcast_view(in[0], to), in[1]); });
    check_parity("broadcast_view " + shapes + " summed", {x}, [to](const std::vector<Tensor>& in) {
      return sum(detail::broadcast_view(in[0], to), {0}, false);
    });
  }
  // Of a view with an offset and strides of its own (a transposed slice).
  check_parity("broadcast_view of a transposed slice", {random_input({6, 4}, 740, false)},
               [](const std::vector<Tensor>& in) {
                 return detail::broadcast_view(in[0].narrow(0, 2, 3).t().unsqueeze(1), {4, 5, 3}).contiguous();
               });
}

}  // namespace
}  // namespace nl
