// The fused BatchNorm → ReLU op (batch_norm_relu) equals relu(batch_norm(...)) forward and
// backward — training and eval, with and without affine parameters, [N, C] and [N, C, H, W]
// — updates the running statistics as batch_norm does, and nn::Sequential runs
// BatchNorm → ReLU through it (the output's gradient node says so) with the same results.
#include "engine/nn/nn.h"
#include "testing.h"

using namespace nl;
using nl::testing::param;

namespace {

struct Run {
  Tensor out, gx, gw, gb, running_mean, running_var;
};

Run run(bool fused, const Shape& shape, bool affine, bool training, uint64_t seed) {
  Tensor x = param(shape, -2, 2, seed);
  Tensor w = affine ? param({shape[1]}, 0.5, 1.5, seed + 1) : Tensor();
  Tensor b = affine ? param({shape[1]}, -0.5, 0.5, seed + 2) : Tensor();
  Generator fill(seed + 3);
  Tensor rm = uniform({shape[1]}, -0.2, 0.2, {}, &fill);
  Tensor rv = uniform({shape[1]}, 0.5, 1.5, {}, &fill);
  Tensor out = fused ? batch_norm_relu(x, w, b, rm, rv, training, 0.1, 1e-5)
                     : relu(batch_norm(x, w, b, rm, rv, training, 0.1, 1e-5));
  Generator gen(seed + 4);
  sum(mul(out, randn(out.shape(), {}, &gen))).backward();
  return {out, x.grad(), affine ? w.grad() : Tensor(), affine ? b.grad() : Tensor(), rm, rv};
}

}  // namespace

class BatchNormReluTest : public QObject {
  Q_OBJECT
 private slots:
  void fused_equals_batch_norm_then_relu() {
    for (const Shape& shape : {Shape{16, 5}, Shape{4, 3, 7, 9}, Shape{2, 8, 16, 16}})
      for (bool affine : {true, false})
        for (bool training : {true, false}) {
          const std::string what = shape.str() + (affine ? " affine" : "") + (training ? " training" : " eval");
          Run a = run(true, shape, affine, training, 11), b = run(false, shape, affine, training, 11);
          for (auto [x, y, name] : {std::tuple{a.out, b.out, "output"}, std::tuple{a.gx, b.gx, "grad x"},
                                    std::tuple{a.running_mean, b.running_mean, "running mean"},
                                    std::tuple{a.running_var, b.running_var, "running var"}}) {
            std::string msg = nl::testing::compare(x, y, 1e-5, 1e-6);
            QVERIFY2(msg.empty(), (what + " " + name + ": " + msg).c_str());
          }
          if (affine) {
            NL_EXPECT_CLOSE(a.gw, b.gw, 1e-4, 1e-5);
            NL_EXPECT_CLOSE(a.gb, b.gb, 1e-4, 1e-5);
          }
          QVERIFY(a.out.to_vector<float>() == relu(a.out).to_vector<float>());  // never negative
        }
  }

  void sequential_fuses_batch_norm_then_relu() {
    manual_seed(3);
    auto bn = std::make_shared<nn::BatchNorm2d>(4);
    auto seq = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{bn, std::make_shared<nn::ReLU>()});
    Tensor x = param({3, 4, 5, 5}, -1, 1, 5);
    Tensor fused = seq->forward(x);
    QVERIFY(fused.grad_fn() != nullptr);
    QCOMPARE(std::string(fused.grad_fn()->name()), std::string("batch_norm_relu"));
    bn->running_mean = zeros({4});  // the first call updated them; start the reference alike
    bn->running_var = ones({4});
    Tensor composed = relu(bn->forward(x));
    NL_EXPECT_CLOSE(fused, composed, 1e-5, 1e-6);
  }
};

QTEST_APPLESS_MAIN(BatchNormReluTest)
#include "test_batch_norm_relu.moc"
