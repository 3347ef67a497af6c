// Tensor basics: factories, views sharing storage, contiguity, reshape, broadcasting,
// dtype conversions and the errors bad arguments raise.
#include "testing.h"

using namespace nl;
using nl::testing::error_of;

class TestTensor : public QObject {
  Q_OBJECT
 private slots:
  void factories() {
    Tensor z = zeros({2, 3});
    QCOMPARE(z.shape(), (Shape{2, 3}));
    QCOMPARE(z.dtype(), DType::Float32);
    for (float v : z.to_vector<float>()) QCOMPARE(v, 0.0f);
    for (float v : ones({4}).to_vector<float>()) QCOMPARE(v, 1.0f);
    for (float v : full({2, 2}, 2.5).to_vector<float>()) QCOMPARE(v, 2.5f);
    auto r = arange(0, 5).to_vector<float>();
    QCOMPARE(r, (std::vector<float>{0, 1, 2, 3, 4}));
    auto ri = arange(4).to_vector<int64_t>();
    QCOMPARE(ri, (std::vector<int64_t>{0, 1, 2, 3}));
    QCOMPARE(arange(1, 2, 0.25).numel(), 4);
    QCOMPARE(scalar_tensor(3.0).dim(), 0);
    QCOMPARE(scalar_tensor(3.0).item(), 3.0);
  }

  void seeded_random_is_reproducible_and_distributed() {
    Generator g1(123), g2(123), g3(124);
    auto a = randn({1000}, {}, &g1).to_vector<float>();
    auto b = randn({1000}, {}, &g2).to_vector<float>();
    auto c = randn({1000}, {}, &g3).to_vector<float>();
    QCOMPARE(a, b);
    QVERIFY(a != c);
    double m = 0, s = 0;
    for (float v : a) m += v;
    m /= a.size();
    for (float v : a) s += (v - m) * (v - m);
    s = std::sqrt(s / a.size());
    QVERIFY(std::fabs(m) < 0.1);
    QVERIFY(std::fabs(s - 1) < 0.1);
    auto u = uniform({1000}, 2, 3, {}, &g1).to_vector<float>();
    for (float v : u) QVERIFY(v >= 2 && v < 3);
    // Generator state round trip continues the same stream.
    std::string st = g1.state();
    double next = g1.next_double();
    Generator g4;
    g4.set_state(st);
    QCOMPARE(g4.next_double(), next);
    QVERIFY(!error_of([] { Generator g; g.set_state("garbage"); }).empty());
  }

  void views_share_storage() {
    Tensor a = arange(0, 12).reshape({3, 4});
    Tensor t = a.t();
    QCOMPARE(t.shape(), (Shape{4, 3}));
    QVERIFY(t.storage() == a.storage());
    QVERIFY(!t.is_contiguous());
    QCOMPARE(t.to_vector<float>()[1], 4.0f);  // t[0][1] = a[1][0]
    Tensor s = a.slice(1, 1, 4, 2);           // columns 1 and 3
    QCOMPARE(s.shape(), (Shape{3, 2}));
    QCOMPARE(s.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11}));
    Tensor n = a.narrow(0, 1, 2);
    QCOMPARE(n.to_vector<float>()[0], 4.0f);
    QCOMPARE(a.select(1, 2).to_vector<float>(), (std::vector<float>{2, 6, 10}));
    Tensor p = arange(0, 24).reshape({2, 3, 4}).permute({2, 0, 1});
    QCOMPARE(p.shape(), (Shape{4, 2, 3}));
    QCOMPARE(p.to_vector<float>()[1], 4.0f);
    Tensor e = tensor({1, 2, 3}, {3, 1}).expand({3, 4});
    QCOMPARE(e.strides()[1], 0);
    QCOMPARE(e.to_vector<float>()[5], 2.0f);
    QCOMPARE(a.unsqueeze(0).shape(), (Shape{1, 3, 4}));
    QCOMPARE(a.unsqueeze(-1).shape(), (Shape{3, 4, 1}));
    QCOMPARE(a.unsqueeze(1).squeeze(1).shape(), (Shape{3, 4}));
    QCOMPARE(zeros({1, 3, 1}).squeeze().shape(), (Shape{3}));
    QCOMPARE(zeros({2, 3, 4}).flatten(1).shape(), (Shape{2, 12}));
    // Writing through a view changes the base.
    Tensor col = a.select(1, 0);
    fill_(col, -1);
    QCOMPARE(a.to_vector<float>()[4], -1.0f);
  }

  void reshape_views_or_copies() {
    Tensor a = arange(0, 12).reshape({3, 4});
    Tensor v = a.reshape({2, 6});
    QVERIFY(v.storage() == a.storage());
    QCOMPARE(a.reshape({-1}).shape(), (Shape{12}));
    QCOMPARE(a.reshape({2, -1, 3}).shape(), (Shape{2, 2, 3}));
    Tensor t = a.t();
    Tensor r = t.reshape({12});  // transposed data cannot be viewed flat: copies
    QVERIFY(r.storage() != a.storage());
    QCOMPARE(r.to_vector<float>()[1], 4.0f);
    QVERIFY(error_of([&] { t.view({12}); }).find("compatible") != std::string::npos);
    QVERIFY(t.contiguous().is_contiguous());
    QVERIFY(a.contiguous().same(a));  // no copy when already contiguous
    // A view of a slice that keeps rows intact.
    QCOMPARE(a.narrow(0, 1, 2).view({8}).to_vector<float>()[0], 4.0f);
  }

  void broadcasting_rules() {
    QCOMPARE(broadcast_shapes({3, 1}, {1, 4}, "t"), (Shape{3, 4}));
    QCOMPARE(broadcast_shapes({5, 3, 4}, {4}, "t"), (Shape{5, 3, 4}));
    QCOMPARE(broadcast_shapes({}, {2, 2}, "t"), (Shape{2, 2}));
    std::string msg = error_of([] { broadcast_shapes({3, 2}, {4, 2}, "add"); });
    QVERIFY2(msg.find("add") != std::string::npos && msg.find("[3, 2]") != std::string::npos, msg.c_str());
    Tensor a = tensor({1, 2, 3}, {3, 1}), b = tensor({10, 20}, {2});
    QCOMPARE(add(a, b).to_vector<float>(), (std::vector<float>{11, 21, 12, 22, 13, 23}));
  }

  void dtype_conversions() {
    Tensor f = tensor({1.5f, -2.25f, 3.0f, 65504.0f}, {4});
    QCOMPARE(f.to(DType::Float16).to(DType::Float32).to_vector<float>(), f.to_vector<float>());
    QCOMPARE(f.to(DType::BFloat16).to(DType::Float32).to_vector<float>()[0], 1.5f);
    QCOMPARE(f.to(DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3, 65504}));
    QCOMPARE(f.to(DType::Float64).to_vector<double>()[1], -2.25);
    QCOMPARE(f.to(DType::Bool).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 1}));
    QCOMPARE(half_to_float(float_to_half(1e-6f)), half_to_float(float_to_half(1e-6f)));  // subnormal stable
    QVERIFY(std::isinf(half_to_float(float_to_half(1e6f))));
    QVERIFY(std::isnan(bfloat16_to_float(float_to_bfloat16(NAN))));
    // Mixed-dtype arithmetic promotes.
    Tensor i = tensor(std::vector<int64_t>{1, 2}, {2});
    QCOMPARE(add(i, tensor({0.5f, 0.5f}, {2})).dtype(), DType::Float32);
    QCOMPARE(add(i, i).dtype(), DType::Int64);
    QCOMPARE(div(i, i).dtype(), DType::Float32);
  }

  void bad_arguments_raise_clear_errors() {
    QVERIFY(error_of([] { zeros({2, -1}); }).find("negative") != std::string::npos);
    QVERIFY(error_of([] { zeros({2, 3}).reshape({4, 2}); }).find("invalid") != std::string::npos);
    QVERIFY(error_of([] { zeros({2, 3}).transpose(0, 2); }).find("out of range") != std::string::npos);
    QVERIFY(error_of([] { zeros({2, 3}).permute({0, 0}); }).find("repeated") != std::string::npos);
    QVERIFY(error_of([] { zeros({2, 3}).narrow(1, 2, 2); }).find("outside") != std::string::npos);
    QVERIFY(error_of([] { zeros({2, 3}).expand({2, 4}); }).find("cannot expand") != std::string::npos);
    QVERIFY(error_of([] { zeros({2, 3}).item(); }).find("one") != std::string::npos);
    QVERIFY(error_of([] { zeros({2}, {.dtype = DType::Int64}).requires_grad_(); }).find("floating") !=
            std::string::npos);
    QVERIFY(error_of([] { zeros({2}).to(Device::cuda(0)); }).find("cuda:0") != std::string::npos);
    QVERIFY(error_of([] { from_buffer(nullptr, 4, {2}, DType::Float32); }).find("needs 8") != std::string::npos);
    QVERIFY(error_of([] { zeros(Shape{1, 1, 1, 1, 1, 1, 1, 1}).unsqueeze(0); }).find("rank") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestTensor)
#include "test_tensor.moc"
