#pragma once
// toadstool::Error is what every bad input turns into: the message names the
// op and the shapes, dtypes and devices involved.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace toadstool {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

// Shapes print as [2, 3]; everything else through its operator<<.
template <class T>
void append(std::ostringstream& out, const T& value) {
  out << value;
}
inline void append(std::ostringstream& out, const std::vector<int64_t>& shape) {
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
}

template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (append(out, parts), ...);
  return out.str();
}

}  // namespace detail
}  // namespace toadstool

// TS_CHECK(cond, parts...) throws toadstool::Error with the parts concatenated.
// It is for user-facing checks and internal invariants alike: it never
// vanishes in release builds.
#define TS_CHECK(cond, ...)                                                          \
  do {                                                                               \
    if (!(cond)) throw ::toadstool::Error(::toadstool::detail::concat(__VA_ARGS__)); \
  } while (false)
