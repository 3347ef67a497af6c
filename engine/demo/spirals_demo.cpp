// Engine demo (what `make run` runs until the application exists): trains a small MLP on
// the two-spirals problem with the engine's tensors and autograd, printing the loss.
#include <cmath>
#include <cstdio>

#include "engine/ops/ops.h"

using namespace nl;

int main() {
  manual_seed(42);
  const int64_t n_per_class = 200, N = 2 * n_per_class;
  std::vector<float> xs(N * 2);
  std::vector<int64_t> ys(N);
  Generator gen(7);
  for (int64_t i = 0; i < n_per_class; ++i) {
    double r = 0.2 + 3.0 * i / n_per_class, t = 1.75 * i / n_per_class * 2 * M_PI;
    for (int c = 0; c < 2; ++c) {
      double a = t + c * M_PI;
      int64_t k = c * n_per_class + i;
      xs[k * 2] = (float)(r * std::cos(a) / 3.2 + 0.02 * gen.next_normal());
      xs[k * 2 + 1] = (float)(r * std::sin(a) / 3.2 + 0.02 * gen.next_normal());
      ys[k] = c;
    }
  }
  Tensor x = tensor(xs, {N, 2}), y = tensor(ys, {N});
  auto layer = [](int64_t in, int64_t out) {
    double bound = 1.0 / std::sqrt((double)in);
    Tensor w = uniform({out, in}, -bound, bound), b = uniform({out}, -bound, bound);
    return std::pair{w.requires_grad_(), b.requires_grad_()};
  };
  auto [w1, b1] = layer(2, 64);
  auto [w2, b2] = layer(64, 64);
  auto [w3, b3] = layer(64, 2);
  std::vector<Tensor*> params = {&w1, &b1, &w2, &b2, &w3, &b3};
  // Adam, written out with in-place ops.
  std::vector<Tensor> m, v;
  for (Tensor* p : params) m.push_back(zeros(p->shape())), v.push_back(zeros(p->shape()));
  const double lr = 0.01, beta1 = 0.9, beta2 = 0.999;
  for (int step = 1; step <= 1500; ++step) {
    Tensor h = tanh(linear(x, w1, b1));
    h = tanh(linear(h, w2, b2));
    Tensor logits = linear(h, w3, b3);
    Tensor loss = cross_entropy(logits, y);
    for (Tensor* p : params) p->zero_grad();
    loss.backward();
    NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = params[i]->grad();
      mul_(m[i], beta1), add_(m[i], g, 1 - beta1);
      mul_(v[i], beta2), add_(v[i], mul(g, g), 1 - beta2);
      Tensor mhat = div(m[i], 1 - std::pow(beta1, step)), vhat = div(v[i], 1 - std::pow(beta2, step));
      add_(*params[i], div(mhat, add(sqrt(vhat), 1e-8)), -lr);
    }
    if (step % 100 == 0) {
      double acc = mean(eq(argmax(logits, 1), y).to(DType::Float32)).item();
      std::printf("step %4d  loss %.4f  accuracy %.1f%%\n", step, loss.item(), 100 * acc);
      std::fflush(stdout);
    }
  }
  return 0;
}
