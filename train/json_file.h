#pragma once
// Reading the checkpoint code's JSON files (trainer.json, the latest / best
// pointers). Internal: nlohmann/json stays a build-time dependency, so no
// public header includes this one.
#include <istream>
#include <nlohmann/json.hpp>
#include <string>

namespace toadstool::train {

// The JSON document `in` (an opened `file`) holds; Error "<who>: <file> is
// not valid JSON: ..." when it does not parse.
nlohmann::ordered_json parse_json_file(std::istream& in, const std::string& file, const char* who);

}  // namespace toadstool::train
