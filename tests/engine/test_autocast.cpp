// bf16 autocast and the TF32 switch on the CPU: the guard's state rules (nesting,
// thread-locality, CUDA devices only), and that neither changes a CPU result by one bit —
// forward or backward, for matmul, linear and conv2d — nor the CPU's dtype errors.
#include <thread>

#include "engine/core/autocast.h"
#include "engine/core/math_settings.h"
#include "testing.h"

using namespace nl;
using nl::testing::contains;
using nl::testing::error_of;
using nl::testing::param;

namespace {

// Bitwise equality of two float tensors (same shape, same values, same dtype).
bool identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  auto x = a.to_vector<float>(), y = b.to_vector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

struct Run {
  Tensor out;
  std::vector<Tensor> grads;
};

// Runs fn on fresh leaves with the same values, then backward with a fixed weight.
Run run(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
  Run r;
  r.out = fn(leaves);
  Generator gen(99);
  Tensor w = uniform(r.out.shape(), -1, 1, {}, &gen);
  sum(mul(r.out, w)).backward();
  for (const Tensor& t : leaves) r.grads.push_back(t.grad());
  return r;
}

}  // namespace

class TestAutocast : public QObject {
  Q_OBJECT
 private slots:
  void guard_state() {
    QVERIFY(!autocast_requested());
    {
      AutocastGuard on(true);
      QVERIFY(autocast_requested());
      QVERIFY(autocast_enabled(Device::cuda(0)));
      QVERIFY(autocast_enabled(Device::cuda(3)));
      QVERIFY(!autocast_enabled(Device::cpu()));  // only CUDA devices autocast
      {
        AutocastGuard off(false);
        QVERIFY(!autocast_requested());
        QVERIFY(!autocast_enabled(Device::cuda(0)));
      }
      QVERIFY(autocast_requested());  // restored by the inner guard
      // Thread-local: another thread (a data loader, the UI) is not affected.
      bool other = true;
      std::thread([&] { other = autocast_requested(); }).join();
      QVERIFY(!other);
    }
    QVERIFY(!autocast_requested());
    QVERIFY(!autocast_enabled(Device::cuda(0)));
  }

  void cpu_results_unchanged() {
    using In = const std::vector<Tensor>&;
    struct Case {
      const char* name;
      std::function<Tensor(In)> fn;
      std::vector<Tensor> inputs;
    };
    Conv2dParams p;
    p.padding[0] = p.padding[1] = 1;
    p.stride[0] = 2;
    const std::vector<Case> cases = {
        {"matmul", [](In t) { return matmul(t[0], t[1]); }, {param({3, 7, 5}, -1, 1, 1), param({5, 4}, -1, 1, 2)}},
        {"batched matmul", [](In t) { return matmul(t[0], t[1].transpose(1, 2)); },
         {param({2, 7, 5}, -1, 1, 3), param({2, 4, 5}, -1, 1, 4)}},
        {"linear", [](In t) { return linear(t[0], t[1], t[2]); },
         {param({6, 9}, -1, 1, 5), param({4, 9}, -1, 1, 6), param({4}, -1, 1, 7)}},
        {"conv2d", [p](In t) { return conv2d(t[0], t[1], t[2], p); },
         {param({2, 3, 9, 9}, -1, 1, 8), param({4, 3, 3, 3}, -1, 1, 9), param({4}, -1, 1, 10)}},
    };
    for (const Case& c : cases) {
      Run plain = run(c.fn, c.inputs);
      Run cast;
      {
        AutocastGuard autocast(true);
        cast = run(c.fn, c.inputs);
      }
      Run no_tf32;
      {
        const bool previous = allow_tf32();
        set_allow_tf32(!previous);  // the CPU ignores the TF32 switch
        no_tf32 = run(c.fn, c.inputs);
        set_allow_tf32(previous);
      }
      for (const Run* r : {&cast, &no_tf32}) {
        QVERIFY2(r->out.dtype() == DType::Float32, c.name);
        QVERIFY2(identical(r->out, plain.out), c.name);
        for (size_t i = 0; i < plain.grads.size(); ++i) {
          QVERIFY2(r->grads[i].dtype() == DType::Float32, c.name);
          QVERIFY2(identical(r->grads[i], plain.grads[i]), c.name);
        }
      }
    }
  }

  void tf32_setting() {
    QVERIFY(allow_tf32());  // on by default, like PyTorch's cuDNN default
    set_allow_tf32(false);
    QVERIFY(!allow_tf32());
    set_allow_tf32(true);
    QVERIFY(allow_tf32());
  }

  // The CPU kernels are float32 only: the ops still say so, autocast or not.
  void cpu_dtype_errors_unchanged() {
    AutocastGuard autocast(true);
    Tensor a = zeros({2, 3}, {.dtype = DType::BFloat16}), b = zeros({3, 2}, {.dtype = DType::BFloat16});
    std::string e = error_of([&] { matmul(a, b); });
    QVERIFY2(contains(e, "matmul: inputs must be float32, got bfloat16 and bfloat16"), e.c_str());
    e = error_of([&] { matmul(zeros({2, 3}, {.dtype = DType::Float64}), zeros({3, 2}, {.dtype = DType::Float64})); });
    QVERIFY2(contains(e, "matmul: inputs must be float32"), e.c_str());
    Tensor x = zeros({1, 2, 5, 5}, {.dtype = DType::BFloat16}), w = zeros({3, 2, 3, 3}, {.dtype = DType::BFloat16});
    e = error_of([&] { conv2d(x, w, Tensor()); });
    QVERIFY2(contains(e, "conv2d: input must be float32, got bfloat16"), e.c_str());
    e = error_of([&] { conv2d(zeros({1, 2, 5, 5}), w, Tensor()); });
    QVERIFY2(contains(e, "conv2d: weight must be float32, got bfloat16"), e.c_str());
  }
};

QTEST_APPLESS_MAIN(TestAutocast)
#include "test_autocast.moc"
