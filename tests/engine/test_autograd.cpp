// The autograd engine's behaviour: accumulation, shared subgraphs, retain_graph, detach,
// no-grad mode, broadcast reduction, validation errors and leaf-gradient ownership.
#include "testing.h"

using namespace nl;
using nl::testing::error_of;

class TestAutograd : public QObject {
  Q_OBJECT
 private slots:
  void simple_chain() {
    Tensor x = tensor({2.0f}, {1}, true);
    Tensor y = mul(mul(x, x), x);  // x^3
    y.backward(ones({1}));
    QCOMPARE(x.grad().item(), 12.0);
  }

  void diamond_accumulates_by_dependency_count() {
    Tensor x = tensor({3.0f}, {1}, true);
    Tensor a = mul(x, 2.0), b = mul(x, x);
    Tensor y = add(mul(a, b), a);  // 2x^3 + 2x → 6x^2 + 2 = 56
    sum(y).backward();
    QCOMPARE(x.grad().item(), 56.0);
  }

  void gradients_accumulate_across_calls_until_cleared() {
    Tensor x = tensor({1.0f, 2.0f}, {2}, true);
    sum(mul(x, 3.0)).backward();
    sum(mul(x, 3.0)).backward();
    QCOMPARE(x.grad().to_vector<float>(), (std::vector<float>{6, 6}));
    x.zero_grad();
    sum(x).backward();
    QCOMPARE(x.grad().to_vector<float>(), (std::vector<float>{1, 1}));
  }

  void retain_graph_and_second_backward_error() {
    Tensor x = tensor({2.0f}, {1}, true);
    Tensor y = sum(exp(x));
    y.backward(Tensor(), true);
    y.backward();
    QVERIFY(std::fabs(x.grad().item() - 2 * std::exp(2.0)) < 1e-4);
    std::string msg = error_of([&] { y.backward(); });
    QVERIFY2(msg.find("second time") != std::string::npos, msg.c_str());
  }

  void detach_and_no_grad() {
    Tensor x = tensor({2.0f}, {1}, true);
    Tensor d = x.detach();
    QVERIFY(!d.requires_grad());
    QVERIFY(d.storage() == x.storage());
    Tensor y = add(mul(x, d), x);  // d is a constant: dy/dx = d + 1 = 3
    sum(y).backward();
    QCOMPARE(x.grad().item(), 3.0);
    {
      NoGradGuard ng;
      Tensor z = mul(x, x);
      QVERIFY(!z.requires_grad());
      QVERIFY(z.is_leaf());
    }
    QVERIFY(grad_enabled());
    QVERIFY(mul(x, x).requires_grad());
  }

  void broadcast_gradients_are_reduced_to_input_shape() {
    Tensor a = nl::testing::param({3, 1}), b = nl::testing::param({4}, -1, 1, 2);
    Tensor y = mul(a, b);  // [3, 4]
    sum(y).backward();
    QCOMPARE(a.grad().shape(), (Shape{3, 1}));
    QCOMPARE(b.grad().shape(), (Shape{4}));
    auto bv = b.to_vector<float>();
    float bsum = bv[0] + bv[1] + bv[2] + bv[3];
    QVERIFY(std::fabs(a.grad().to_vector<float>()[0] - bsum) < 1e-5);
    // Scalar (0-d) input broadcast against a matrix.
    Tensor s = scalar_tensor(2.0, {.requires_grad = true});
    sum(mul(s, ones({2, 3}))).backward();
    QCOMPARE(s.grad().shape(), Shape{});
    QCOMPARE(s.grad().item(), 6.0);
  }

  void backward_needs_grad_and_matching_shapes() {
    Tensor x = ones({2});
    QVERIFY(error_of([&] { sum(x).backward(); }).find("does not require grad") != std::string::npos);
    Tensor w = ones({2}).requires_grad_();
    Tensor y = mul(w, 2.0);
    QVERIFY(error_of([&] { y.backward(); }).find("non-scalar") != std::string::npos);
    QVERIFY(error_of([&] { y.backward(ones({3})); }).find("shape") != std::string::npos);
  }

  void leaf_grad_is_private_to_the_leaf() {
    // add passes the same gradient tensor to both inputs: updating one .grad in place
    // must not change the other.
    Tensor a = ones({3}).requires_grad_(), b = ones({3}).requires_grad_();
    sum(add(a, b)).backward();
    Tensor ga = a.grad();
    {
      NoGradGuard ng;
      mul_(ga, 10.0);
    }
    QCOMPARE(b.grad().to_vector<float>(), (std::vector<float>{1, 1, 1}));
    QVERIFY(a.grad().is_contiguous());
  }

  void in_place_on_grad_tensor_is_refused() {
    Tensor w = ones({2}).requires_grad_();
    QVERIFY(error_of([&] { mul_(w, 2.0); }).find("NoGradGuard") != std::string::npos);
    NoGradGuard ng;
    mul_(w, 2.0);
    QCOMPARE(w.to_vector<float>()[0], 2.0f);
  }

  void non_floating_outputs_do_not_record() {
    Tensor x = nl::testing::param({4});
    Tensor mask = gt(x, 0.0);
    QVERIFY(!mask.requires_grad());
    QVERIFY(!argmax(x, 0).requires_grad());
  }

  void views_chain_gradients() {
    Tensor x = nl::testing::param({2, 3, 4});
    NL_GRADCHECK([](const std::vector<Tensor>& in) {
      Tensor v = in[0].permute({2, 0, 1}).reshape({4, 6}).t().slice(0, 1, 6, 2).unsqueeze(0).squeeze(0);
      return mul(v.expand({2, 3, 4}), 2.0);
    }, {x});
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].select(1, 2).flatten().narrow(0, 1, 5); }, {x});
    NL_GRADCHECK([](const std::vector<Tensor>& in) { return in[0].transpose(0, 2).contiguous().clone(); }, {x});
  }

  void very_deep_graphs_neither_recurse_in_backward_nor_in_release() {
    Tensor x = ones({1}).requires_grad_();
    {
      Tensor y = x;
      for (int i = 0; i < 300000; ++i) y = mul(add(y, 1.0), 1.0);
      sum(y).backward(Tensor(), true);
      QCOMPARE(x.grad().item(), 1.0);
    }  // the 600,000-node graph is freed here without overflowing the stack
    QVERIFY(x.grad().defined());
  }

  void dtype_conversion_gradient() {
    Tensor x = nl::testing::param({3});
    Tensor y = x.to(DType::Float64).to(DType::Float32);
    sum(mul(y, 2.0)).backward();
    QCOMPARE(x.grad().to_vector<float>(), (std::vector<float>{2, 2, 2}));
  }
};

QTEST_APPLESS_MAIN(TestAutograd)
#include "test_autograd.moc"
