// Shared helpers for engine tests: closeness checks and a finite-difference gradient check.
#pragma once
#include <QtTest/QtTest>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "tests/tensor_compare.h"

namespace nl::testing {

#define NL_EXPECT_CLOSE(actual, expected, rtol, atol)                                  \
  do {                                                                                 \
    std::string nl_msg_ = ::nl::testing::compare((actual), (expected), (rtol), (atol)); \
    QVERIFY2(nl_msg_.empty(), nl_msg_.c_str());                                        \
  } while (0)

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Loss used by the gradient check: sum(f(inputs) * weights), accumulated in double.
inline double weighted_sum(const Tensor& out, const std::vector<double>& weights) {
  auto v = out.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * weights[i];
  return s;
}

// Checks autograd's gradients of f against central finite differences for every input
// that requires grad (inputs must be contiguous Float32 leaves; f may take views of them,
// which is how non-contiguous cases are covered). Returns "" on success.
inline std::string gradcheck(const Fn& f, std::vector<Tensor> inputs, double eps = 1e-2, double rtol = 1e-2,
                             double atol = 1e-2, uint64_t seed = 7) {
  Tensor out = f(inputs);
  Generator gen(seed);
  Tensor w = randn(out.shape(), {}, &gen);
  std::vector<double> weights = w.to_vector<double>();
  for (auto& t : inputs)
    if (t.requires_grad()) t.zero_grad();
  Tensor loss = sum(mul(out, w));
  loss.backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    if (!x.grad().defined()) return "input " + std::to_string(k) + " got no gradient";
    auto analytic = x.grad().to_vector<double>();
    float* data = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      float orig = data[i];
      double up, down;
      {
        NoGradGuard ng;
        data[i] = orig + (float)eps;
        up = weighted_sum(f(inputs), weights);
        data[i] = orig - (float)eps;
        down = weighted_sum(f(inputs), weights);
        data[i] = orig;
      }
      double h = ((double)(orig + (float)eps) - (double)(orig - (float)eps));
      double numeric = (up - down) / h;
      if (!(std::fabs(numeric - analytic[i]) <= atol + rtol * std::fabs(numeric))) {
        std::ostringstream os;
        os << "input " << k << " element " << i << ": autograd " << analytic[i] << " vs finite difference "
           << numeric;
        return os.str();
      }
    }
  }
  return {};
}

#define NL_GRADCHECK(...)                                          \
  do {                                                             \
    std::string nl_msg_ = ::nl::testing::gradcheck(__VA_ARGS__);   \
    QVERIFY2(nl_msg_.empty(), nl_msg_.c_str());                    \
  } while (0)

// A leaf tensor of uniform values in [lo, hi) that requires grad.
inline Tensor param(const Shape& shape, double lo = -1, double hi = 1, uint64_t seed = 1) {
  Generator gen(seed);
  Tensor t = uniform(shape, lo, hi, {}, &gen);
  t.requires_grad_(true);
  return t;
}

// A float32 tensor from double-precision reference values.
inline Tensor to_tensor(const std::vector<double>& v, const Shape& shape) {
  return tensor(std::vector<float>(v.begin(), v.end()), shape);
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs `fn` and returns the nl::Error message it threw ("" if none).
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

}  // namespace nl::testing
