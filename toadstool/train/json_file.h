#pragma once
// Reading the checkpoint code's JSON files (trainer.json, the latest / best
// pointers). Internal: nlohmann/json stays a build-time dependency, so no
// public header includes this one.
#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>

#include "toadstool/tensor/checked_math.h"

namespace toadstool::train {

// The JSON document `in` (an opened `file`) holds; Error "<who>: <file> is
// not valid JSON: ..." when it does not parse.
nlohmann::ordered_json parse_json_file(std::istream& in, const std::string& file, const char* who);

// The fields of one JSON object read from `file`, each checked for presence,
// type and range before it is converted: nlohmann's own conversions throw
// its type_error, and a float read as an integer is undefined behaviour past
// int64's range. Every Error starts "<who>: <file>".
class JsonFields {
 public:
  // Error unless `j` is an object.
  JsonFields(const nlohmann::ordered_json& j, std::string file, const char* who);

  bool has(const char* key) const { return j_.contains(key); }
  const nlohmann::ordered_json& field(const char* key) const;
  std::string string(const char* key) const;
  // A JSON integer (not 1.5, not 1e300) in [lo, hi] (tensor/saved_values.h).
  int64_t integer(const char* key, int64_t lo, int64_t hi = kMaxSavedCount) const;
  // A number, or NaN for null.
  double number_or_nan(const char* key) const;

 private:
  const nlohmann::ordered_json& j_;
  std::string file_;
  const char* who_;
};

}  // namespace toadstool::train
