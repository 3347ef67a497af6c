// cat, stack, split, chunk and dropout: values, views, gradients and errors.
#include "testing.h"

using namespace nl;
using nl::testing::error_of;
using nl::testing::param;

class TestMovement : public QObject {
  Q_OBJECT
 private slots:
  void cat_values_and_gradients() {
    Tensor a = tensor({1, 2, 3, 4}, {2, 2}), b = tensor({5, 6}, {2, 1});
    QCOMPARE(cat({a, b}, 1).to_vector<float>(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
    QCOMPARE(cat({a, b.t()}, 0).shape(), (Shape{3, 2}));
    QCOMPARE(cat({a, b.t()}, 0).to_vector<float>()[4], 5.0f);
    using In = const std::vector<Tensor>&;
    Tensor x = param({2, 3}, -1, 1, 1), y = param({2, 2}, -1, 1, 2), z = param({3, 2}, -1, 1, 3);
    NL_GRADCHECK([](In t) { return cat({t[0], t[1], t[2].t()}, 1); }, {x, y, z});
    NL_GRADCHECK([](In t) { return stack({t[0], mul(t[0], 2.0)}, 1); }, {x});
  }

  void split_and_chunk_are_views() {
    Tensor x = arange(0, 10).reshape({2, 5});
    auto parts = split(x, {2, 3}, 1);
    QCOMPARE(parts.size(), size_t(2));
    QCOMPARE(parts[1].shape(), (Shape{2, 3}));
    QVERIFY(parts[1].storage() == x.storage());
    QCOMPARE(parts[1].to_vector<float>(), (std::vector<float>{2, 3, 4, 7, 8, 9}));
    QCOMPARE(split(x, 2, 1).size(), size_t(3));
    QCOMPARE(split(x, 2, 1)[2].shape(), (Shape{2, 1}));
    QCOMPARE(chunk(x, 2, 1)[0].shape(), (Shape{2, 3}));
    using In = const std::vector<Tensor>&;
    Tensor p = param({4, 6});
    NL_GRADCHECK([](In t) {
      auto s = split(t[0], {1, 2, 3}, 1);
      return add(mul(s[0], 2.0), s[2].narrow(1, 0, 1));
    }, {p});
  }

  void dropout_behaviour() {
    Generator gen(3);
    Tensor x = ones({10000});
    Tensor y = dropout(x, 0.3, true, &gen);
    auto v = y.to_vector<float>();
    int kept = 0;
    for (float f : v) {
      QVERIFY(f == 0.0f || std::fabs(f - 1 / 0.7f) < 1e-6);
      kept += f != 0.0f;
    }
    QVERIFY(std::abs(kept - 7000) < 300);
    QVERIFY(dropout(x, 0.3, false).same(x));  // identity in eval
    // Same seed, same mask; gradient flows only through kept elements, scaled.
    Tensor w = ones({100}).requires_grad_();
    Generator g1(9), g2(9);
    Tensor out = dropout(w, 0.5, true, &g1);
    sum(out).backward();
    NL_EXPECT_CLOSE(w.grad(), dropout(ones({100}), 0.5, true, &g2), 0, 0);
    QVERIFY(error_of([&] { dropout(x, 1.5, true); }).find("[0, 1]") != std::string::npos);
  }

  void errors() {
    QVERIFY(error_of([] { cat({}, 0); }).find("at least one") != std::string::npos);
    QVERIFY(error_of([] { cat({zeros({2, 3}), zeros({3, 3})}, 1); }).find("outside dimension") != std::string::npos);
    QVERIFY(error_of([] { cat({zeros({2, 3}), zeros({3})}, 0); }).find("rank") != std::string::npos);
    QVERIFY(error_of([] { split(zeros({4}), std::vector<int64_t>{1, 2}, 0); }).find("add up") != std::string::npos);
    QVERIFY(error_of([] { stack({zeros({2}), zeros({3})}, 0); }).find("shape") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestMovement)
#include "test_movement.moc"
