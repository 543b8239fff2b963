#include "toadstool/nn/init.h"

#include <cmath>
#include <vector>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::nn::init {

namespace {

void check_floating(const char* op, const Tensor& tensor) {
  TS_CHECK(tensor.defined() && tensor.is_floating_point(), op,
           ": needs a defined floating tensor, got ",
           tensor.defined() ? detail::describe(tensor) : std::string("undefined"));
}

// Writes `values` (any dtype, same shape) into `tensor` without recording.
Tensor fill_from(const Tensor& tensor, const Tensor& values) {
  NoGradGuard no_grad;
  Tensor target = tensor;
  target.copy_(values);
  return target;
}

int64_t fan(const Tensor& tensor, FanMode mode) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor);
  return mode == FanMode::FanIn ? fan_in : fan_out;
}

}  // namespace

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv1d" || nonlinearity == "conv2d" ||
      nonlinearity == "conv3d" || nonlinearity == "sigmoid") {
    return 1.0;
  }
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  throw Error(detail::concat("calculate_gain: unknown nonlinearity '", nonlinearity, "'"));
}

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& tensor) {
  TS_CHECK(tensor.dim() >= 2, "fan_in_and_fan_out: needs a tensor with at least 2 dims, got ",
           tensor.shape());
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

Tensor uniform_(const Tensor& tensor, double low, double high, Generator* generator) {
  check_floating("uniform_", tensor);
  TS_CHECK(low <= high, "uniform_: low (", low, ") must not exceed high (", high, ")");
  const Tensor u = rand(tensor.shape(), kFloat64, generator);
  return fill_from(tensor, u * (high - low) + low);
}

Tensor normal_(const Tensor& tensor, double mean, double std, Generator* generator) {
  check_floating("normal_", tensor);
  TS_CHECK(std >= 0.0, "normal_: std must be non-negative, got ", std);
  const Tensor z = randn(tensor.shape(), kFloat64, generator);
  return fill_from(tensor, z * std + mean);
}

Tensor trunc_normal_(const Tensor& tensor, double mean, double std, double a, double b,
                     Generator* generator) {
  check_floating("trunc_normal_", tensor);
  TS_CHECK(std > 0.0 && a < b, "trunc_normal_: needs std > 0 and a < b, got std=", std, " a=", a,
           " b=", b);
  // Rejection: draw N(mean, std) and redraw what falls outside [a, b]. Exact
  // for the truncated distribution; needs few rounds unless [a, b] is far
  // in a tail, which is refused rather than looped on.
  const double standard_a = (a - mean) / std;
  const double standard_b = (b - mean) / std;
  const double mass =
      0.5 * (std::erf(standard_b / std::sqrt(2.0)) - std::erf(standard_a / std::sqrt(2.0)));
  TS_CHECK(mass > 1e-3, "trunc_normal_: [a, b] = [", a, ", ", b,
           "] holds under 0.1% of N(mean, std): choose a wider interval");
  const int64_t n = tensor.numel();
  std::vector<double> values(static_cast<size_t>(n));
  int64_t filled = 0;
  while (filled < n) {
    const Tensor draw = randn({n - filled}, kFloat64, generator);
    const double* z = draw.data_ptr<double>();
    for (int64_t i = 0; i < n - filled; ++i) {
      const double x = mean + std * z[i];
      if (x >= a && x <= b) values[static_cast<size_t>(filled++)] = x;
    }
  }
  return fill_from(tensor, from_vector(values, tensor.shape()));
}

Tensor constant_(Tensor tensor, double value) {
  check_floating("constant_", tensor);
  NoGradGuard no_grad;
  tensor.fill_(value);
  return tensor;
}

Tensor zeros_(Tensor tensor) { return constant_(std::move(tensor), 0.0); }
Tensor ones_(Tensor tensor) { return constant_(std::move(tensor), 1.0); }

Tensor xavier_uniform_(const Tensor& tensor, double gain, Generator* generator) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(tensor, -bound, bound, generator);
}

Tensor xavier_normal_(const Tensor& tensor, double gain, Generator* generator) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(tensor, 0.0, std, generator);
}

Tensor kaiming_uniform_(const Tensor& tensor, double a, FanMode mode,
                        const std::string& nonlinearity, Generator* generator) {
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(fan(tensor, mode));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(tensor, -bound, bound, generator);
}

Tensor kaiming_normal_(const Tensor& tensor, double a, FanMode mode,
                       const std::string& nonlinearity, Generator* generator) {
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(fan(tensor, mode));
  return normal_(tensor, 0.0, std, generator);
}

}  // namespace toadstool::nn::init
