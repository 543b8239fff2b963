#pragma once
// Reader for the golden files written by tests/golden/make_golden.py (format
// in tests/golden/README.md): cases by name, each a set of labelled tensors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {

// label -> tensor: the inputs in0, in1, ..., PyTorch's outputs out0, out1,
// ..., and the op's arguments.
using GoldenCase = std::map<std::string, Tensor>;

namespace detail {

class GoldenParser {
 public:
  explicit GoldenParser(std::string path) : path_(std::move(path)) {}

  std::map<std::string, GoldenCase> parse() {
    std::ifstream in(path_);
    if (!in) throw std::runtime_error("cannot open golden file " + path_);
    std::map<std::string, GoldenCase> cases;
    GoldenCase* current = nullptr;
    for (std::string line; std::getline(in, line);) {
      ++line_number_;
      std::istringstream words(line);
      std::string kind;
      if (!(words >> kind)) continue;  // blank lines separate cases
      if (kind == "case") {
        const std::string name = word(words, "case name");
        expect_end(words);
        if (cases.count(name)) fail("case '" + name + "' appears twice");
        current = &cases[name];
      } else if (kind == "tensor") {
        if (current == nullptr) fail("tensor before the first 'case' line");
        const std::string label = word(words, "tensor label");
        if (current->count(label)) fail("label '" + label + "' appears twice in one case");
        (*current)[label] = tensor(words);
      } else {
        fail("expected 'case' or 'tensor', got '" + kind + "'");
      }
    }
    if (cases.empty()) fail("no cases");
    return cases;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("golden file " + path_ + ":" + std::to_string(line_number_) + ": " +
                             what);
  }

  std::string word(std::istringstream& in, const std::string& what) const {
    std::string w;
    if (!(in >> w)) fail("missing " + what);
    return w;
  }

  void expect_end(std::istringstream& in) const {
    std::string extra;
    if (in >> extra) fail("unexpected '" + extra + "' at the end of the line");
  }

  // The whole word as a number: strtod reads nan, inf and -inf too.
  double number(const std::string& w) const {
    char* end = nullptr;
    const double v = std::strtod(w.c_str(), &end);
    if (w.empty() || *end != '\0') fail("'" + w + "' is not a number");
    return v;
  }

  int64_t integer(const std::string& w) const {
    char* end = nullptr;
    const int64_t v = std::strtoll(w.c_str(), &end, 10);
    if (w.empty() || *end != '\0') fail("'" + w + "' is not an integer");
    return v;
  }

  // "<dtype> <ndim> <d0> ... <values...>"
  Tensor tensor(std::istringstream& in) const {
    const std::string dtype = word(in, "dtype");
    const int64_t ndim = integer(word(in, "ndim"));
    if (ndim < 0) fail("negative ndim");
    Shape shape(ndim);
    int64_t numel = 1;
    for (auto& d : shape) {
      d = integer(word(in, "size"));
      if (d < 0) fail("negative size");
      numel *= d;
    }
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (static_cast<int64_t>(words.size()) != numel) {
      fail(std::to_string(words.size()) + " values for " + std::to_string(numel) + " elements");
    }
    if (dtype == "float32" || dtype == "float64") {
      std::vector<double> values;
      for (const auto& w : words) values.push_back(number(w));
      return from_vector(values, shape).to(dtype == "float32" ? kFloat32 : kFloat64);
    }
    if (dtype == "int64") {
      std::vector<int64_t> values;
      for (const auto& w : words) values.push_back(integer(w));
      return from_vector(values, shape);
    }
    if (dtype == "bool") {
      std::vector<bool> values;
      for (const auto& w : words) {
        if (w != "0" && w != "1") fail("bool values are 0 or 1, got '" + w + "'");
        values.push_back(w == "1");
      }
      return from_vector(values, shape);
    }
    fail("unknown dtype '" + dtype + "'");
  }

  std::string path_;
  int line_number_ = 0;
};

}  // namespace detail

// A result against PyTorch's: float64 within a few thousand ulps of the
// summands; float32 within its rounding (PyTorch's float32 kernels sum in
// other orders).
inline void expect_matches(const Tensor& got, const Tensor& want) {
  ASSERT_TRUE(got.defined()) << "undefined";
  EXPECT_EQ(got.dtype(), want.dtype());
  if (want.dtype() == kFloat64) {
    expect_close(got, want, 1e-10, 1e-12);
  } else {
    expect_close(got, want, 1e-5, 1e-6);
  }
}

// The cases of TOADSTOOL_GOLDEN_DIR/<file>, by name. Throws std::runtime_error
// naming the file and line when the file is malformed.
inline std::map<std::string, GoldenCase> load_golden(const std::string& file) {
  return detail::GoldenParser(std::string(TOADSTOOL_GOLDEN_DIR) + "/" + file).parse();
}

// A 1-D int64 golden tensor (an int list argument) as a Shape.
inline Shape int_values(const Tensor& t) {
  const Tensor c = t.contiguous();
  return Shape(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// A case that records which labels a runner read, so that a stored tensor
// the runner ignores can fail the test (unused() lists them).
class TrackedCase {
 public:
  explicit TrackedCase(const GoldenCase& stored) : stored_(stored) {}

  bool has(const std::string& label) const { return stored_.count(label) > 0; }
  const Tensor& get(const std::string& label) {
    used_.insert(label);
    const auto it = stored_.find(label);
    if (it == stored_.end()) throw std::runtime_error("no tensor '" + label + "' in the case");
    return it->second;
  }
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [label, t] : stored_) {
      if (!used_.count(label)) out.push_back(label);
    }
    return out;
  }

 private:
  const GoldenCase& stored_;
  std::set<std::string> used_;
};

}  // namespace toadstool::testing
