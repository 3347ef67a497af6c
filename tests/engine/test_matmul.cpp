// matmul and linear: every rank combination, batch broadcasting, transposed operands
// (folded into sgemm), gradients, and shape errors.
#include "testing.h"

using namespace nl;
using nl::testing::error_of;
using nl::testing::param;

namespace {
// Naive double-precision [M,K]@[K,N] reference on contiguous copies.
Tensor reference_mm(const Tensor& a, const Tensor& b) {
  int64_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<float> out(M * N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += av[i * K + k] * bv[k * N + j];
      out[i * N + j] = (float)s;
    }
  return tensor(out, {M, N});
}
}  // namespace

class TestMatmul : public QObject {
  Q_OBJECT
 private slots:
  void two_d_with_transposes() {
    Tensor a = param({7, 5}, -1, 1, 1).detach(), b = param({5, 3}, -1, 1, 2).detach();
    Tensor at = a.t().contiguous(), bt = b.t().contiguous();
    Tensor ref = reference_mm(a, b);
    NL_EXPECT_CLOSE(matmul(a, b), ref, 1e-5, 1e-5);
    NL_EXPECT_CLOSE(matmul(at.t(), b), ref, 1e-5, 1e-5);
    NL_EXPECT_CLOSE(matmul(a, bt.t()), ref, 1e-5, 1e-5);
    NL_EXPECT_CLOSE(matmul(at.t(), bt.t()), ref, 1e-5, 1e-5);
    // A strided (sliced) operand that sgemm cannot take directly.
    Tensor wide = param({7, 10}, -1, 1, 3).detach();
    NL_EXPECT_CLOSE(matmul(wide.slice(1, 0, 10, 2), b), reference_mm(wide.slice(1, 0, 10, 2).contiguous(), b), 1e-5,
                    1e-5);
  }

  void vector_and_batched_forms() {
    Tensor v = param({5}, -1, 1, 4).detach(), m = param({5, 3}, -1, 1, 5).detach();
    QCOMPARE(matmul(v, v).dim(), 0);
    auto vv = v.to_vector<double>();
    double dot = 0;
    for (double x : vv) dot += x * x;
    QVERIFY(std::fabs(matmul(v, v).item() - dot) < 1e-5);
    QCOMPARE(matmul(v, m).shape(), (Shape{3}));
    QCOMPARE(matmul(m.t(), v).shape(), (Shape{3}));
    Tensor a = param({2, 4, 6, 5}, -1, 1, 6).detach();
    Tensor y = matmul(a, m);  // [2,4,6,5] @ [5,3] folds the batch into M
    QCOMPARE(y.shape(), (Shape{2, 4, 6, 3}));
    NL_EXPECT_CLOSE(y.select(0, 1).select(0, 2), reference_mm(a.select(0, 1).select(0, 2).contiguous(), m), 1e-5,
                    1e-5);
    Tensor b = param({4, 5, 2}, -1, 1, 7).detach();
    Tensor z = matmul(a, b);  // batch broadcast [2,4] with [4]
    QCOMPARE(z.shape(), (Shape{2, 4, 6, 2}));
    NL_EXPECT_CLOSE(z.select(0, 1).select(0, 3),
                    reference_mm(a.select(0, 1).select(0, 3).contiguous(), b.select(0, 3).contiguous()), 1e-5, 1e-5);
    Tensor c = param({3, 1, 5, 2}, -1, 1, 8).detach();
    QCOMPARE(matmul(param({4, 6, 5}).detach(), c).shape(), (Shape{3, 4, 6, 2}));
  }

  void gradients() {
    using In = const std::vector<Tensor>&;
    Tensor a = param({4, 3}, -1, 1, 1), b = param({3, 5}, -1, 1, 2);
    NL_GRADCHECK([](In t) { return matmul(t[0], t[1]); }, {a, b});
    NL_GRADCHECK([](In t) { return matmul(t[1].t(), t[0].t()); }, {a, b});
    Tensor v = param({3}, -1, 1, 3);
    NL_GRADCHECK([](In t) { return matmul(t[0], t[1]); }, {a, v});
    NL_GRADCHECK([](In t) { return matmul(t[1], t[0]); }, {b, v});
    NL_GRADCHECK([](In t) { return matmul(t[0], t[0]); }, {v});
    Tensor ba = param({2, 4, 3}, -1, 1, 4), bb = param({2, 3, 2}, -1, 1, 5), shared = param({3, 2}, -1, 1, 6);
    NL_GRADCHECK([](In t) { return matmul(t[0], t[1]); }, {ba, bb});
    NL_GRADCHECK([](In t) { return matmul(t[0], t[1]); }, {ba, shared});
    Tensor bc = param({1, 3, 2}, -1, 1, 7);
    NL_GRADCHECK([](In t) { return matmul(t[0], t[1]); }, {ba, bc});  // batch broadcast in backward
  }

  void linear_layer() {
    using In = const std::vector<Tensor>&;
    Tensor x = param({2, 3, 4}, -1, 1, 1), w = param({5, 4}, -1, 1, 2), b = param({5}, -1, 1, 3);
    Tensor y = linear(x, w, b);
    QCOMPARE(y.shape(), (Shape{2, 3, 5}));
    NL_EXPECT_CLOSE(y.select(0, 0), add(reference_mm(x.select(0, 0).detach().contiguous(), w.detach().t().contiguous()),
                                        b.detach()), 1e-5, 1e-5);
    NL_GRADCHECK([](In t) { return linear(t[0], t[1], t[2]); }, {x, w, b});
    NL_GRADCHECK([](In t) { return linear(t[0], t[1]); }, {x, w});
  }

  void errors() {
    std::string msg = error_of([] { matmul(zeros({2, 3}), zeros({4, 5})); });
    QVERIFY2(msg.find("inner dimensions") != std::string::npos && msg.find("[2, 3]") != std::string::npos, msg.c_str());
    QVERIFY(error_of([] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); }).find("broadcast") != std::string::npos);
    QVERIFY(error_of([] { matmul(zeros({2}, {.dtype = DType::Int64}), zeros({2})); }).find("float32") != std::string::npos);
    QVERIFY(error_of([] { matmul(zeros(Shape{}), zeros({2})); }).find("at least one") != std::string::npos);
    QVERIFY(error_of([] { linear(zeros({2, 3}), zeros({4, 5})); }).find("in_features") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestMatmul)
#include "test_matmul.moc"
