#include "toadstool/nn/positional.h"

#include <cmath>
#include <vector>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

namespace {

void check_positions(const char* layer, const Tensor& x, int64_t d_model, int64_t max_len) {
  TS_CHECK(x.dim() == 3 && x.size(2) == d_model && x.size(1) <= max_len, layer,
           ": input must be [batch, seq <= max_len=", max_len, ", d_model=", d_model, "], got ",
           x.shape());
}

}  // namespace

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int64_t d_model, int64_t max_len)
    : UnaryModule("SinusoidalPositionalEncoding"), d_model(d_model), max_len(max_len) {
  TS_CHECK(d_model > 0 && max_len > 0, "SinusoidalPositionalEncoding: d_model and max_len must ",
           "be positive, got ", d_model, " and ", max_len);
  std::vector<double> table(static_cast<size_t>(max_len * d_model));
  for (int64_t pos = 0; pos < max_len; ++pos) {
    for (int64_t i = 0; i < d_model; ++i) {
      const double frequency = std::exp(-std::log(10000.0) * static_cast<double>(i - i % 2) /
                                        static_cast<double>(d_model));
      const double angle = static_cast<double>(pos) * frequency;
      table[static_cast<size_t>(pos * d_model + i)] =
          i % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  }
  pe = register_buffer("pe", from_vector(table, {max_len, d_model}).to(kFloat32),
                       /*persistent=*/false);
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x) {
  check_positions("SinusoidalPositionalEncoding", x, d_model, max_len);
  return x + pe.narrow(0, 0, x.size(1));
}

std::string SinusoidalPositionalEncoding::extra_repr() const {
  return detail::concat("d_model=", d_model, ", max_len=", max_len);
}

LearnedPositionalEncoding::LearnedPositionalEncoding(int64_t max_len, int64_t d_model)
    : UnaryModule("LearnedPositionalEncoding"), max_len(max_len), d_model(d_model) {
  TS_CHECK(d_model > 0 && max_len > 0, "LearnedPositionalEncoding: d_model and max_len must ",
           "be positive, got ", d_model, " and ", max_len);
  weight = register_parameter("weight", empty({max_len, d_model}));
  init::normal_(weight);
}

Tensor LearnedPositionalEncoding::forward(const Tensor& x) {
  check_positions("LearnedPositionalEncoding", x, d_model, max_len);
  return x + weight.narrow(0, 0, x.size(1));
}

std::string LearnedPositionalEncoding::extra_repr() const {
  return detail::concat("max_len=", max_len, ", d_model=", d_model);
}

std::shared_ptr<UnaryModule> make_positional_encoding(const std::string& kind, int64_t d_model,
                                                      int64_t max_len) {
  if (kind == "sinusoidal") return std::make_shared<SinusoidalPositionalEncoding>(d_model, max_len);
  TS_CHECK(kind == "learned", "positional encoding must be 'sinusoidal' or 'learned', got '", kind,
           "'");
  return std::make_shared<LearnedPositionalEncoding>(max_len, d_model);
}

}  // namespace toadstool::nn
