#pragma once
// Reader for the golden files written by tests/golden/make_golden.py (format
// in tests/golden/README.md): each case holds an op name, arguments, the
// input tensors and PyTorch's outputs.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "toadstool.h"

namespace toadstool::testing {

struct GoldenCase {
  std::string name;
  std::string op;
  std::map<std::string, std::string> args;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;

  bool has(const std::string& key) const { return args.count(key) > 0; }
  double number(const std::string& key) const { return std::stod(at(key)); }
  int64_t integer(const std::string& key) const { return std::stoll(at(key)); }
  const std::string& text(const std::string& key) const { return at(key); }
  // "1,2" -> {1, 2}; "-" -> {}.
  Shape list(const std::string& key) const {
    Shape out;
    if (at(key) == "-") return out;
    std::stringstream in(at(key));
    for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
    return out;
  }

 private:
  const std::string& at(const std::string& key) const {
    auto it = args.find(key);
    TS_CHECK(it != args.end(), "golden case ", name, ": no argument '", key, "'");
    return it->second;
  }
};

namespace detail {

inline double parse_number(const std::string& word) {
  if (word == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (word == "inf") return std::numeric_limits<double>::infinity();
  if (word == "-inf") return -std::numeric_limits<double>::infinity();
  return std::stod(word);
}

// "tensor <label> <dtype> <ndim> <dims...> : <values...>"
inline Tensor parse_tensor(std::istringstream& in, const std::string& where) {
  std::string dtype_name;
  int64_t ndim = 0;
  in >> dtype_name >> ndim;
  Shape shape(ndim);
  for (auto& d : shape) in >> d;
  std::string colon;
  in >> colon;
  TS_CHECK(in && colon == ":", "golden file ", where, ": malformed tensor line");
  std::vector<double> values;
  for (std::string word; in >> word;) values.push_back(parse_number(word));
  const std::map<std::string, DType> dtypes{
      {"float32", kFloat32}, {"float64", kFloat64}, {"int64", kInt64}, {"bool", kBool}};
  TS_CHECK(dtypes.count(dtype_name), "golden file ", where, ": unknown dtype ", dtype_name);
  return from_vector(values, shape).to(dtypes.at(dtype_name));
}

}  // namespace detail

inline std::vector<GoldenCase> load_golden(const std::string& file) {
  const std::string path = std::string(TOADSTOOL_GOLDEN_DIR) + "/" + file;
  std::ifstream in(path);
  TS_CHECK(in.good(), "cannot open golden file ", path);
  std::vector<GoldenCase> cases;
  GoldenCase current;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    const std::string where = path + ":" + std::to_string(line_number);
    if (kind == "case") {
      current = GoldenCase{};
      words >> current.name;
    } else if (kind == "op") {
      words >> current.op;
    } else if (kind == "arg") {
      std::string key, value;
      words >> key >> value;
      current.args[key] = value;
    } else if (kind == "tensor") {
      std::string label;
      words >> label;
      Tensor t = detail::parse_tensor(words, where);
      (label.rfind("in", 0) == 0 ? current.inputs : current.outputs).push_back(t);
    } else if (kind == "end") {
      cases.push_back(current);
    } else {
      TS_CHECK(false, "golden file ", where, ": unexpected line '", line, "'");
    }
  }
  TS_CHECK(!cases.empty(), "golden file ", path, " holds no cases");
  return cases;
}

}  // namespace toadstool::testing
