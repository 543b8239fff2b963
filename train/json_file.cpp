#include "train/json_file.h"

#include <sstream>

#include "tensor/error.h"

namespace toadstool::train {

nlohmann::ordered_json parse_json_file(std::istream& in, const std::string& file, const char* who) {
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::ordered_json::parse(text.str());
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(detail::concat(who, ": ", file, " is not valid JSON: ", e.what()));
  }
}

}  // namespace toadstool::train
