#pragma once
// Parameter initialisation, as torch.nn.init: each function fills `tensor` in
// place (without recording autograd) from `generator` (default: the global
// one) and returns it. Fan-in / fan-out follow PyTorch: for a weight
// [out, in, k...] fan_in = in * k..., fan_out = out * k....
#include <string>

#include "toadstool/tensor/generator.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::nn::init {

enum class FanMode { FanIn, FanOut };

// The recommended gain for a non-linearity: "linear", "conv1d", "sigmoid" ->
// 1, "tanh" -> 5/3, "relu" -> sqrt(2), "leaky_relu" -> sqrt(2 / (1 + a^2)),
// "selu" -> 3/4.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
// {fan_in, fan_out} of a tensor with at least 2 dims.
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& tensor);

Tensor uniform_(const Tensor& tensor, double low = 0.0, double high = 1.0,
                Generator* generator = nullptr);
Tensor normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0,
               Generator* generator = nullptr);
// Normal(mean, std) restricted to [a, b] (values outside are redrawn).
Tensor trunc_normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0, double a = -2.0,
                     double b = 2.0, Generator* generator = nullptr);
Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
// U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);
// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);
// U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan), gain from nonlinearity and a.
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                        const std::string& nonlinearity = "leaky_relu",
                        Generator* generator = nullptr);
// N(0, std^2), std = gain / sqrt(fan).
Tensor kaiming_normal_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                       const std::string& nonlinearity = "leaky_relu",
                       Generator* generator = nullptr);

}  // namespace toadstool::nn::init
