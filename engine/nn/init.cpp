// torch.nn.init's initialisers over the engine's random factories (see init.h).
#include "engine/nn/init.h"

#include <cmath>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"

namespace nl::nn::init {

Fans calculate_fans(const Tensor& t) {
  NL_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor of at least 2 dimensions, got ", t.shape().str());
  int64_t receptive = 1;
  for (int d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv1d" || nonlinearity == "conv2d" || nonlinearity == "sigmoid")
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  fail("init: unsupported nonlinearity '", nonlinearity, "'");
}

static int64_t pick_fan(const Tensor& t, FanMode mode) {
  Fans f = calculate_fans(t);
  int64_t fan = mode == FanMode::FanIn ? f.fan_in : f.fan_out;
  NL_CHECK(fan > 0, "init: zero fan for a tensor of shape ", t.shape().str());
  return fan;
}

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  NoGradGuard no_grad;
  copy_(t, uniform(t.shape(), low, high, {.dtype = t.dtype()}, gen));
  return t;
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  NoGradGuard no_grad;
  copy_(t, add(mul(randn(t.shape(), {.dtype = t.dtype()}, gen), std), mean));
  return t;
}

Tensor& constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  return fill_(t, value);
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator* gen) {
  double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / pick_fan(t, mode));
  return uniform_(t, -bound, bound, gen);
}

Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator* gen) {
  double std = calculate_gain(nonlinearity, a) / std::sqrt((double)pick_fan(t, mode));
  return normal_(t, 0.0, std, gen);
}

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  Fans f = calculate_fans(t);
  double bound = gain * std::sqrt(6.0 / (f.fan_in + f.fan_out));
  return uniform_(t, -bound, bound, gen);
}

Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  Fans f = calculate_fans(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / (f.fan_in + f.fan_out)), gen);
}

}  // namespace nl::nn::init
