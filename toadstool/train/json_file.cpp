#include "toadstool/train/json_file.h"

#include <limits>
#include <sstream>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/saved_values.h"

namespace toadstool::train {

using Json = nlohmann::ordered_json;

Json parse_json_file(std::istream& in, const std::string& file, const char* who) {
  std::stringstream text;
  text << in.rdbuf();
  try {
    return Json::parse(text.str());
  } catch (const Json::exception& e) {
    throw Error(detail::concat(who, ": ", file, " is not valid JSON: ", e.what()));
  }
}

JsonFields::JsonFields(const Json& j, std::string file, const char* who)
    : j_(j), file_(std::move(file)), who_(who) {
  TS_CHECK(j_.is_object(), who_, ": ", file_, " should hold a JSON object, got ", j_.dump());
}

const Json& JsonFields::field(const char* key) const {
  TS_CHECK(j_.contains(key), who_, ": ", file_, ": no field \"", key, "\"");
  return j_.at(key);
}

std::string JsonFields::string(const char* key) const {
  const Json& v = field(key);
  TS_CHECK(v.is_string(), who_, ": ", file_, ": \"", key, "\" should be a string, got ", v.dump());
  return v.get<std::string>();
}

int64_t JsonFields::integer(const char* key, int64_t lo, int64_t hi) const {
  const Json& v = field(key);
  const std::string what = detail::concat(who_, ": ", file_, ": \"", key, "\"");
  TS_CHECK(v.is_number_integer(), what, " should be an integer, got ", v.dump());
  // An unsigned JSON integer may not fit int64: compared before converting.
  constexpr auto kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  TS_CHECK(!v.is_number_unsigned() || v.get<uint64_t>() <= kInt64Max, what,
           " should be a whole number in [", lo, ", ", hi, "], got ", v.dump());
  return saved_integer_in(v.get<int64_t>(), what, lo, hi);
}

double JsonFields::number_or_nan(const char* key) const {
  const Json& v = field(key);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  TS_CHECK(v.is_number(), who_, ": ", file_, ": \"", key, "\" should be a number or null, got ",
           v.dump());
  return v.get<double>();
}

}  // namespace toadstool::train
