// Weight initialisers as in torch.nn.init: fills a tensor in place (without recording
// autograd) from a Generator, so a seeded model starts from the same weights every run.
// Fans follow torch.nn.init._calculate_fan_in_and_fan_out: for a weight [out, in, k...]
// fan_in = in * prod(k) and fan_out = out * prod(k).
#pragma once
#include <string>

#include "engine/core/generator.h"
#include "engine/core/tensor.h"

namespace nl::nn::init {

enum class FanMode { FanIn, FanOut };

struct Fans {
  int64_t fan_in;
  int64_t fan_out;
};
// Throws for tensors of fewer than 2 dimensions, as PyTorch does.
Fans calculate_fans(const Tensor& t);
// torch.nn.init.calculate_gain: "linear", "conv1d", "conv2d", "sigmoid", "tanh", "relu",
// "leaky_relu" (param = negative slope), "selu".
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

// All return `t`. gen == nullptr draws from the default generator.
Tensor& uniform_(Tensor& t, double low, double high, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
Tensor& constant_(Tensor& t, double value);
// bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
Tensor& kaiming_uniform_(Tensor& t, double a = 0, FanMode mode = FanMode::FanIn,
                         const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
// std = gain / sqrt(fan).
Tensor& kaiming_normal_(Tensor& t, double a = 0, FanMode mode = FanMode::FanIn,
                        const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
// bound = gain * sqrt(6 / (fan_in + fan_out)).
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
// std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor& xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace nl::nn::init
