#include "toadstool/nn/pooling.h"

#include <algorithm>
#include <utility>

namespace toadstool::nn {

namespace {

// Errors at construction for what every forward would refuse: an empty or
// non-positive kernel, a negative padding.
PoolOptions checked(PoolOptions options, const char* name) {
  TS_CHECK(!options.kernel_size.empty(), name, ": kernel_size is empty");
  for (int64_t k : options.kernel_size) {
    TS_CHECK(k >= 1, name, ": kernel_size must be positive, got ", options.kernel_size);
  }
  for (int64_t p : options.padding) {
    TS_CHECK(p >= 0, name, ": padding must be >= 0, got ", options.padding);
  }
  return options;
}

}  // namespace

PoolNd::PoolNd(const char* name, PoolFn pool, bool max, PoolOptions options)
    : UnaryModule(name), options(checked(std::move(options), name)), pool_(pool), max_(max) {}

std::string PoolNd::extra_repr() const {
  const PoolOptions& o = options;
  std::string text = detail::concat("kernel_size=", o.kernel_size,
                                    ", stride=", o.stride.empty() ? o.kernel_size : o.stride,
                                    ", padding=", o.padding);
  if (max_) text += detail::concat(", dilation=", o.dilation);
  if (!max_ && !o.count_include_pad) text += ", count_include_pad=False";
  return text;
}

AdaptiveAvgPool1d::AdaptiveAvgPool1d(int64_t output_size)
    : UnaryModule("AdaptiveAvgPool1d"), output_size(output_size) {
  TS_CHECK(output_size >= 1, "AdaptiveAvgPool1d: output_size must be >= 1, got ", output_size);
}
std::string AdaptiveAvgPool1d::extra_repr() const {
  return detail::concat("output_size=", output_size);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Shape output_size)
    : UnaryModule("AdaptiveAvgPool2d"), output_size(std::move(output_size)) {
  TS_CHECK((this->output_size.size() == 1 || this->output_size.size() == 2) &&
               *std::min_element(this->output_size.begin(), this->output_size.end()) >= 1,
           "AdaptiveAvgPool2d: output_size must be {s} or {H, W}, each >= 1, got ",
           this->output_size);
}
std::string AdaptiveAvgPool2d::extra_repr() const {
  return detail::concat("output_size=", output_size);
}

}  // namespace toadstool::nn
